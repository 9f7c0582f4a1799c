// Run tessera's TypeScript sources in a plain Node process (the multi-process tests start ranks with
// `node --import test/support/ts-register.mjs <file>.ts`): registers ts-hooks.mjs, which transpiles each .ts
// module with TypeScript on load. Worker threads inherit the flag, so the control channel's worker loads too.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
