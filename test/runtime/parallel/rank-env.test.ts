/**
 * The rank environment of the launchers people use (torchrun, srun, tessera's own), read with nothing
 * tessera-specific set, and Slurm's compressed host lists.
 */
import { describe, expect, it } from 'vitest';
import { expandHostList, firstHost } from '../../../runtime/parallel/hostlist.js';
import { detectRankEnv } from '../../../runtime/parallel/rank-env.js';

describe('torchrun and tessera launcher variables', () => {
  const torchrun = {
    RANK: '3',
    WORLD_SIZE: '8',
    LOCAL_RANK: '1',
    LOCAL_WORLD_SIZE: '2',
    GROUP_RANK: '1',
    MASTER_ADDR: 'node-a',
    MASTER_PORT: '29500',
    TORCHELASTIC_RUN_ID: 'none',
  };

  it('reads rank, world, local rank and the root', () => {
    expect(detectRankEnv(torchrun)).toEqual({
      rank: 3,
      world: 8,
      localRank: 1,
      host: 'node-a',
      port: 29500,
      launcher: 'torchrun',
    });
    expect(
      detectRankEnv({
        ...torchrun,
        TORCHELASTIC_RUN_ID: undefined,
        GROUP_RANK: undefined,
        TESSERA_LAUNCHER: '1',
      })?.launcher,
    ).toBe('tessera');
  });

  it("meets on the next port when torchrun's agent serves its own store on MASTER_PORT", () => {
    expect(detectRankEnv({ ...torchrun, TORCHELASTIC_USE_AGENT_STORE: 'True' })?.port).toBe(29501);
    expect(detectRankEnv({ ...torchrun, TORCHELASTIC_USE_AGENT_STORE: 'False' })?.port).toBe(29500);
    expect(
      detectRankEnv({ ...torchrun, TORCHELASTIC_USE_AGENT_STORE: 'True', TESSERA_RENDEZVOUS_PORT: '4000' })
        ?.port,
    ).toBe(4000);
  });

  it('a world of one needs no root; bad values are named', () => {
    expect(detectRankEnv({ RANK: '0', WORLD_SIZE: '1' })).toMatchObject({ world: 1, rank: 0 });
    expect(() => detectRankEnv({ ...torchrun, RANK: '8' })).toThrow('RANK=8 is not below WORLD_SIZE=8');
    expect(() => detectRankEnv({ ...torchrun, WORLD_SIZE: 'four' })).toThrow(
      /WORLD_SIZE=four: expected an integer/,
    );
    expect(() => detectRankEnv({ ...torchrun, MASTER_ADDR: undefined })).toThrow(/MASTER_ADDR is not/);
    expect(() => detectRankEnv({ ...torchrun, MASTER_PORT: '70000' })).toThrow(/not a TCP port/);
  });

  it('no launcher: a process of its own', () => {
    expect(detectRankEnv({})).toBeNull();
    expect(detectRankEnv({ PATH: '/bin', LOCAL_RANK: '0' })).toBeNull();
  });
});

describe('Slurm', () => {
  const srun = {
    SLURM_JOB_ID: '4242',
    SLURM_STEP_ID: '0',
    SLURM_PROCID: '5',
    SLURM_NTASKS: '8',
    SLURM_LOCALID: '1',
    SLURM_JOB_NODELIST: 'gpu[017-020]',
    SLURM_STEP_NODELIST: 'gpu[018-019]',
  };

  it('an srun task: rank, world, local rank, the first host of the step as the root, a port from the job', () => {
    expect(detectRankEnv(srun)).toEqual({
      rank: 5,
      world: 8,
      localRank: 1,
      host: 'gpu018',
      port: 20000 + ((4242 * 16) % 20000),
      launcher: 'slurm',
    });
    expect(detectRankEnv({ ...srun, SLURM_STEP_NODELIST: undefined })?.host).toBe('gpu017');
    expect(detectRankEnv({ ...srun, SLURM_STEP_NUM_TASKS: '6', SLURM_PROCID: '5' })?.world).toBe(6);
    expect(detectRankEnv({ ...srun, MASTER_ADDR: 'login', MASTER_PORT: '1234' })).toMatchObject({
      host: 'login',
      port: 1234,
    });
  });

  it('a batch script (no srun step) is a process of its own', () => {
    const { SLURM_STEP_ID: _, ...batch } = srun;
    expect(detectRankEnv({ ...batch, SLURM_PROCID: '0' })).toBeNull();
  });

  it('torchrun inside a Slurm allocation wins (its variables name the rank)', () => {
    expect(
      detectRankEnv({ ...srun, RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'x', MASTER_PORT: '9' }),
    ).toMatchObject({
      rank: 1,
      world: 2,
      launcher: 'environment',
    });
  });
});

describe('host lists', () => {
  it('expand ranges with their zero padding, several entries and groups', () => {
    expect(expandHostList('gnode[10,20,25,37]')).toEqual(['gnode10', 'gnode20', 'gnode25', 'gnode37']);
    expect(expandHostList('node[001-003,007],login')).toEqual([
      'node001',
      'node002',
      'node003',
      'node007',
      'login',
    ]);
    expect(expandHostList('a[1-2]-ib,b9')).toEqual(['a1-ib', 'a2-ib', 'b9']);
    expect(expandHostList('rack[1-2]-n[08-09]')).toEqual([
      'rack1-n08',
      'rack1-n09',
      'rack2-n08',
      'rack2-n09',
    ]);
    expect(expandHostList('solo')).toEqual(['solo']);
  });

  it('the first host without expanding the rest', () => {
    expect(firstHost('node[007-999],x')).toBe('node007');
    expect(firstHost('rack[3-4]-n[10,2]')).toBe('rack3-n10');
    expect(firstHost('host1,host2')).toBe('host1');
  });

  it('malformed lists are refused', () => {
    expect(() => expandHostList('node[1-3')).toThrow(/unbalanced brackets/);
    expect(() => expandHostList('node[3-1]')).toThrow(/runs backwards/);
    expect(() => expandHostList('node[a-b]')).toThrow(/cannot read the range "a-b"/);
  });
});
