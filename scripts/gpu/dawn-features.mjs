// Print the features of Dawn's adapters under a few option sets (run on a GPU machine from the packed dist,
// next to node_modules/webgpu): which options expose `shader-f16` and `subgroups`.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const sets = [
  [],
  ['enable-dawn-features=allow_unsafe_apis'],
  ['enable-dawn-features=allow_unsafe_apis,use_dxc'],
  ['backend=vulkan', 'enable-dawn-features=allow_unsafe_apis'],
];
for (const flags of sets) {
  const gpu = create(flags);
  const adapter = await gpu.requestAdapter({ featureLevel: 'core' });
  console.log(JSON.stringify(flags), adapter ? [...adapter.features].sort().join(' ') : 'no adapter');
}
process.exit(0);
