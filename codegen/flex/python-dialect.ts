/**
 * The Python dialect of the neutral expression renderer. The rendered predicate is generic over an `ops`
 * object: with `INT_OPS` it is plain Python over ints (what tests evaluate without torch), with `TORCH_OPS` the
 * same expression runs on index tensors inside FlexAttention's `mask_mod`. Comparisons, `+ - *`, and `&` / `|`
 * mean the same on bools and bool tensors, so only `not`, `where`, `min`, `max`, `abs`, `log2`, `pow2` and the floor helpers go
 * through `ops`.
 */
import type { Dialect } from '../common/dialect.js';

/** Python spellings; structs are tuples (`seg, c0, c1, ...`), read by index. */
export const PYTHON_DIALECT: Dialect = {
  name: 'python',
  intType: 'int',
  boolType: 'bool',
  intLiteral: (v) => (v < 0 ? `(${v})` : String(v)),
  intDiv: (a, b) => `(${a} // ${b})`,
  select: (c, a, b) => `ops.where(${c}, ${a}, ${b})`,
  declare: (name, _type, init) => `${name} = ${init}`,
  functionHeader: (name, params) => `def ${name}(${params.map((p) => p.name).join(', ')}, ops=INT_OPS):`,
  struct: (name, fields) => `# ${name}: a tuple (${fields.join(', ')})`,
  structValue: (_name, values) => `(${values.join(', ')},)`,
  logic: {
    and: ' & ',
    or: ' | ',
    not: (x) => `ops.not_(${x})`,
    true: 'True',
    false: 'False',
  },
  helpers: {
    floorDiv: 'ops.floordiv',
    floorMod: 'ops.floormod',
    min: 'ops.min',
    max: 'ops.max',
    abs: 'ops.abs',
    log2: 'ops.log2',
    pow2: 'ops.pow2',
  },
};

/**
 * The two `ops` objects: plain ints (the reference) and torch tensors. Both give the IR's integer semantics
 * (floor division and modulo, a zero divisor gives 0). A constant non-zero divisor takes Python's `//` and `%`,
 * which floor on ints and on tensors alike.
 */
export const PYTHON_OPS = `class INT_OPS:
    """The predicate's operations on plain Python ints (no torch needed)."""

    @staticmethod
    def not_(a):
        return not a

    @staticmethod
    def where(c, a, b):
        return a if c else b

    @staticmethod
    def min(a, b):
        return a if a < b else b

    @staticmethod
    def max(a, b):
        return a if a > b else b

    @staticmethod
    def abs(a):
        return -a if a < 0 else a

    @staticmethod
    def log2(a):
        return 0 if a < 1 else a.bit_length() - 1

    @staticmethod
    def pow2(a):
        return 0 if a < 0 else 1 << a

    @staticmethod
    def floordiv(a, b):
        return 0 if b == 0 else a // b

    @staticmethod
    def floormod(a, b):
        return 0 if b == 0 else a % b


class TORCH_OPS:
    """The same operations on index tensors, for FlexAttention's mask_mod (torch imported on first use)."""

    @staticmethod
    def _t(x):
        import torch

        return x if isinstance(x, torch.Tensor) else torch.tensor(x)

    @staticmethod
    def not_(a):
        import torch

        return torch.logical_not(TORCH_OPS._t(a))

    @staticmethod
    def where(c, a, b):
        import torch

        return torch.where(TORCH_OPS._t(c), TORCH_OPS._t(a), TORCH_OPS._t(b))

    @staticmethod
    def min(a, b):
        import torch

        return torch.minimum(TORCH_OPS._t(a), TORCH_OPS._t(b))

    @staticmethod
    def max(a, b):
        import torch

        return torch.maximum(TORCH_OPS._t(a), TORCH_OPS._t(b))

    @staticmethod
    def abs(a):
        import torch

        return torch.abs(TORCH_OPS._t(a))

    @staticmethod
    def log2(a):
        # Floor log2 by counting the powers of two at or below a: exact on int32, and 0 for a < 1.
        a = TORCH_OPS._t(a)
        return sum((a >= (1 << i)).to(a.dtype) for i in range(1, 31))

    @staticmethod
    def pow2(a):
        import torch

        a = TORCH_OPS._t(a)
        return torch.where(a < 0, torch.zeros_like(a), torch.ones_like(a) << a.clamp(min=0))

    @staticmethod
    def floordiv(a, b):
        import torch

        if isinstance(b, int) and b != 0:
            return a // b
        a, b = TORCH_OPS._t(a), TORCH_OPS._t(b)
        safe = torch.where(b == 0, torch.ones_like(b), b)
        return torch.where(b == 0, torch.zeros_like(a), torch.div(a, safe, rounding_mode="floor"))

    @staticmethod
    def floormod(a, b):
        import torch

        if isinstance(b, int) and b != 0:
            return a % b
        a, b = TORCH_OPS._t(a), TORCH_OPS._t(b)
        safe = torch.where(b == 0, torch.ones_like(b), b)
        return torch.where(b == 0, torch.zeros_like(a), torch.remainder(a, safe))`;
