import { describe, expect, it } from 'vitest';
import { layoutSizes } from '../../cli/commands.js';
import { OptionError } from '../../core/errors.js';
import { LAYOUT_PRESETS } from '../../patterns/presets.js';

describe('--layout', () => {
  it('takes assignments, a preset, or a preset with overrides', () => {
    expect(layoutSizes('t=8,h=45,w=80')).toEqual({ t: 8, h: 45, w: 80 });
    expect(layoutSizes('wan-720p')).toEqual({ t: 21, h: 45, w: 80 });
    expect(layoutSizes('hunyuan-720p,l=256,t=30')).toEqual({ t: 30, h: 45, w: 80, l: 256 });
    expect(layoutSizes(undefined)).toEqual({});
  });

  it('states each preset token count as its sizes give it', () => {
    for (const p of LAYOUT_PRESETS) {
      const tokens = Object.values(p.sizes).reduce((a, b) => a * b, 1);
      expect(p.description).toContain(tokens.toLocaleString('en-US'));
    }
  });

  it('names the presets when one is unknown', () => {
    expect(() => layoutSizes('wan-1080p')).toThrow(OptionError);
    expect(() => layoutSizes('wan-1080p')).toThrow(
      /unknown size preset "wan-1080p"; presets: osp-29, .*hunyuan-720p/,
    );
  });
});
