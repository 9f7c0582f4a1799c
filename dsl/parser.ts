/**
 * The grammar of `.tile` files as a chevrotain CST parser. Rules only: no actions, no semantics; the CST is
 * turned into the typed AST by `cst-to-ast.ts`. Error recovery is on, so one run reports several syntax errors.
 *
 * Expression precedence, loosest first: `if c then a else b` (whole expressions only, so it never needs
 * parentheses to end), `||`, `&&`, comparisons and `in` tests, `+ -`, `* / %`, prefix `- !`, primaries.
 * Comparisons are parsed as a chain so that `a < b < c` gets a targeted error instead of a type error.
 */
import { CstParser } from 'chevrotain';
import {
  AddOp,
  AndAnd,
  Attend,
  allTokens,
  Bang,
  CmpOp,
  Colon,
  Comma,
  Deny,
  Dot,
  DotDot,
  DotDotEq,
  Else,
  Equals,
  False,
  Fn,
  Identifier,
  If,
  In,
  IntLiteral,
  Layout,
  LCurly,
  Let,
  LParen,
  Minus,
  MulOp,
  On,
  OrOr,
  Pad,
  Pattern,
  RCurly,
  Require,
  RParen,
  Size,
  StringLiteral,
  Text,
  Then,
  Tiles,
  To,
  True,
} from './lexer.js';
import { syntaxMessages } from './syntax-errors.js';

/** The `.tile` grammar. One instance is reused: set `input`, call `file()`, read `errors`. */
export class TileParser extends CstParser {
  constructor() {
    super(allTokens, {
      recoveryEnabled: true,
      nodeLocationTracking: 'full',
      maxLookahead: 3,
      errorMessageProvider: syntaxMessages,
    });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.layoutDecl) },
        { ALT: () => this.SUBRULE(this.patternDecl) },
        { ALT: () => this.SUBRULE(this.letDecl) },
        { ALT: () => this.SUBRULE(this.fnDecl) },
      ]);
    });
  });

  layoutDecl = this.RULE('layoutDecl', () => {
    this.CONSUME(Layout);
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.CONSUME2(Identifier, { LABEL: 'axes' }) });
    this.CONSUME(RParen);
    this.OPTION(() => {
      this.CONSUME(LCurly);
      this.MANY(() => this.SUBRULE(this.layoutItem));
      this.CONSUME(RCurly);
    });
  });

  layoutItem = this.RULE('layoutItem', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.textItem) },
      { ALT: () => this.SUBRULE(this.sizeItem) },
      { ALT: () => this.SUBRULE(this.tilesItem) },
      { ALT: () => this.SUBRULE(this.padItem) },
    ]);
  });

  textItem = this.RULE('textItem', () => {
    this.CONSUME(Text);
    this.CONSUME(LParen);
    this.CONSUME(Identifier, { LABEL: 'axis' });
    this.CONSUME(RParen);
    this.CONSUME2(Identifier, { LABEL: 'position' });
  });

  sizeItem = this.RULE('sizeItem', () => {
    this.CONSUME(Size);
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.sizeEntry) });
  });

  sizeEntry = this.RULE('sizeEntry', () => {
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.CONSUME(Equals);
    this.SUBRULE(this.expression);
  });

  tilesItem = this.RULE('tilesItem', () => {
    this.CONSUME(Tiles);
    this.CONSUME(LParen);
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expression) });
    this.CONSUME(RParen);
  });

  padItem = this.RULE('padItem', () => {
    this.CONSUME(Pad);
    this.CONSUME(Identifier, { LABEL: 'unit' });
    this.CONSUME(To);
    this.SUBRULE(this.expression);
  });

  patternDecl = this.RULE('patternDecl', () => {
    this.CONSUME(Pattern);
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.patternParam) });
    this.CONSUME(RParen);
    this.CONSUME(On);
    this.CONSUME2(Identifier, { LABEL: 'layout' });
    this.CONSUME(LCurly);
    this.MANY(() => this.SUBRULE(this.patternItem));
    this.CONSUME(RCurly);
  });

  patternParam = this.RULE('patternParam', () => {
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.CONSUME(Colon);
    this.SUBRULE(this.typeName);
    this.OPTION(() => {
      this.CONSUME(Equals);
      this.SUBRULE(this.expression);
    });
  });

  typeName = this.RULE('typeName', () => {
    this.CONSUME(Identifier, { LABEL: 'name' });
  });

  patternItem = this.RULE('patternItem', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.letDecl) },
      { ALT: () => this.SUBRULE(this.fnDecl) },
      { ALT: () => this.SUBRULE(this.attendRule) },
      { ALT: () => this.SUBRULE(this.denyRule) },
      { ALT: () => this.SUBRULE(this.requireStmt) },
    ]);
  });

  letDecl = this.RULE('letDecl', () => {
    this.CONSUME(Let);
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(Colon);
      this.SUBRULE(this.typeName);
    });
    this.CONSUME(Equals);
    this.SUBRULE(this.expression);
  });

  fnDecl = this.RULE('fnDecl', () => {
    this.CONSUME(Fn);
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.fnParam) });
    this.CONSUME(RParen);
    this.OPTION(() => {
      this.CONSUME(Colon);
      this.SUBRULE(this.typeName);
    });
    this.CONSUME(Equals);
    this.SUBRULE(this.expression);
  });

  fnParam = this.RULE('fnParam', () => {
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(Colon);
      this.SUBRULE(this.typeName);
    });
  });

  attendRule = this.RULE('attendRule', () => {
    this.CONSUME(Attend);
    this.SUBRULE(this.expression);
  });

  denyRule = this.RULE('denyRule', () => {
    this.CONSUME(Deny);
    this.SUBRULE(this.expression);
  });

  requireStmt = this.RULE('requireStmt', () => {
    this.CONSUME(Require);
    this.SUBRULE(this.expression);
    this.CONSUME(Else);
    this.CONSUME(StringLiteral);
  });

  expression = this.RULE('expression', () => {
    this.OR([{ ALT: () => this.SUBRULE(this.ifExpr) }, { ALT: () => this.SUBRULE(this.orExpr) }]);
  });

  ifExpr = this.RULE('ifExpr', () => {
    this.CONSUME(If);
    this.SUBRULE(this.expression, { LABEL: 'condition' });
    this.CONSUME(Then);
    this.SUBRULE2(this.expression, { LABEL: 'then' });
    this.CONSUME(Else);
    this.SUBRULE3(this.expression, { LABEL: 'otherwise' });
  });

  orExpr = this.RULE('orExpr', () => {
    this.SUBRULE(this.andExpr, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(OrOr);
      this.SUBRULE2(this.andExpr, { LABEL: 'operands' });
    });
  });

  andExpr = this.RULE('andExpr', () => {
    this.SUBRULE(this.cmpExpr, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(AndAnd);
      this.SUBRULE2(this.cmpExpr, { LABEL: 'operands' });
    });
  });

  cmpExpr = this.RULE('cmpExpr', () => {
    this.SUBRULE(this.addExpr, { LABEL: 'head' });
    this.MANY(() => this.SUBRULE(this.cmpTail, { LABEL: 'tails' }));
  });

  cmpTail = this.RULE('cmpTail', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(CmpOp);
          this.SUBRULE(this.addExpr, { LABEL: 'right' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(In);
          this.SUBRULE(this.inTarget);
        },
      },
    ]);
  });

  inTarget = this.RULE('inTarget', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(LCurly);
          this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expression, { LABEL: 'members' }) });
          this.CONSUME(RCurly);
        },
      },
      {
        ALT: () => {
          this.SUBRULE(this.addExpr, { LABEL: 'low' });
          this.OPTION(() => {
            this.OR2([
              { ALT: () => this.CONSUME(DotDotEq, { LABEL: 'rangeOp' }) },
              { ALT: () => this.CONSUME(DotDot, { LABEL: 'rangeOp' }) },
            ]);
            this.SUBRULE2(this.addExpr, { LABEL: 'high' });
          });
        },
      },
    ]);
  });

  addExpr = this.RULE('addExpr', () => {
    this.SUBRULE(this.mulExpr, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(AddOp);
      this.SUBRULE2(this.mulExpr, { LABEL: 'operands' });
    });
  });

  mulExpr = this.RULE('mulExpr', () => {
    this.SUBRULE(this.unaryExpr, { LABEL: 'operands' });
    this.MANY(() => {
      this.CONSUME(MulOp);
      this.SUBRULE2(this.unaryExpr, { LABEL: 'operands' });
    });
  });

  unaryExpr = this.RULE('unaryExpr', () => {
    this.OR([
      {
        ALT: () => {
          this.OR2([
            { ALT: () => this.CONSUME(Minus, { LABEL: 'op' }) },
            { ALT: () => this.CONSUME(Bang, { LABEL: 'op' }) },
          ]);
          this.SUBRULE(this.unaryExpr, { LABEL: 'operand' });
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(IntLiteral) },
      { ALT: () => this.CONSUME(True) },
      { ALT: () => this.CONSUME(False) },
      {
        ALT: () => {
          this.CONSUME(LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(RParen);
        },
      },
      { ALT: () => this.SUBRULE(this.nameExpr) },
    ]);
  });

  /** A name, a call `f(x)` or a coordinate `q.t`. */
  nameExpr = this.RULE('nameExpr', () => {
    this.CONSUME(Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(LParen);
            this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expression, { LABEL: 'args' }) });
            this.CONSUME(RParen);
          },
        },
        {
          ALT: () => {
            this.CONSUME(Dot);
            this.CONSUME2(Identifier, { LABEL: 'axis' });
          },
        },
      ]);
    });
  });
}

/** The shared parser instance (chevrotain parsers are built once and reused). */
export const tileParser = new TileParser();
