/* A small register bytecode interpreter (switch dispatch) running two loop-heavy programs
 * written in its bytecode: the total number of Collatz steps for 1..LIMIT, and a nested-loop
 * checksum with multiplies, shifts and calls into a subroutine. */
#include <stdint.h>
#include <stdio.h>

enum Op {
  LOADI, /* r[a] = imm */
  MOV,   /* r[a] = r[b] */
  ADD,   /* r[a] = r[b] + r[c] */
  ADDI,  /* r[a] = r[b] + imm */
  SUB,   /* r[a] = r[b] - r[c] */
  MUL,   /* r[a] = r[b] * r[c] */
  AND,   /* r[a] = r[b] & r[c] */
  XOR,   /* r[a] = r[b] ^ r[c] */
  SHRI,  /* r[a] = r[b] >> imm (logical) */
  SHLI,  /* r[a] = r[b] << imm */
  REMU,  /* r[a] = r[b] % r[c] (unsigned) */
  JMP,   /* pc = imm */
  JZ,    /* if r[a] == 0: pc = imm */
  JNZ,   /* if r[a] != 0: pc = imm */
  JLT,   /* if r[a] < r[b] (unsigned): pc = imm */
  CALL,  /* push pc; pc = imm */
  RET,   /* pc = pop */
  HALT,
};

typedef struct {
  uint8_t op, a, b, c;
  int32_t imm;
} Insn;

#define I(op, a, b, c, imm) {op, a, b, c, imm}

static uint64_t run(const Insn *code, uint64_t *r) {
  uint32_t stack[64];
  int sp = 0;
  uint32_t pc = 0;
  uint64_t executed = 0;
  for (;;) {
    const Insn *in = &code[pc++];
    executed++;
    switch (in->op) {
      case LOADI: r[in->a] = (uint64_t)(int64_t)in->imm; break;
      case MOV: r[in->a] = r[in->b]; break;
      case ADD: r[in->a] = r[in->b] + r[in->c]; break;
      case ADDI: r[in->a] = r[in->b] + (uint64_t)(int64_t)in->imm; break;
      case SUB: r[in->a] = r[in->b] - r[in->c]; break;
      case MUL: r[in->a] = r[in->b] * r[in->c]; break;
      case AND: r[in->a] = r[in->b] & r[in->c]; break;
      case XOR: r[in->a] = r[in->b] ^ r[in->c]; break;
      case SHRI: r[in->a] = r[in->b] >> in->imm; break;
      case SHLI: r[in->a] = r[in->b] << in->imm; break;
      case REMU: r[in->a] = r[in->c] ? r[in->b] % r[in->c] : 0; break;
      case JMP: pc = (uint32_t)in->imm; break;
      case JZ: if (r[in->a] == 0) pc = (uint32_t)in->imm; break;
      case JNZ: if (r[in->a] != 0) pc = (uint32_t)in->imm; break;
      case JLT: if (r[in->a] < r[in->b]) pc = (uint32_t)in->imm; break;
      case CALL:
        if (sp == 64) return 0;
        stack[sp++] = pc;
        pc = (uint32_t)in->imm;
        break;
      case RET: pc = stack[--sp]; break;
      case HALT: return executed;
      default: return 0;
    }
  }
}

/* r1 = n, r2 = limit, r3 = total steps, r4 = x, r5 = 1, r6 = x & 1, r7 = 3 */
static const Insn collatz[] = {
    /* 0 */ I(LOADI, 1, 0, 0, 1),
    /* 1 */ I(LOADI, 2, 0, 0, 400000),
    /* 2 */ I(LOADI, 3, 0, 0, 0),
    /* 3 */ I(LOADI, 5, 0, 0, 1),
    /* 4 */ I(LOADI, 7, 0, 0, 3),
    /* 5 */ I(MOV, 4, 1, 0, 0),              /* outer: x = n */
    /* 6 */ I(JLT, 5, 4, 0, 8),              /* inner: if 1 < x continue */
    /* 7 */ I(JMP, 0, 0, 0, 15),
    /* 8 */ I(AND, 6, 4, 5, 0),
    /* 9 */ I(ADDI, 3, 3, 0, 1),
    /* 10 */ I(JZ, 6, 0, 0, 13),
    /* 11 */ I(MUL, 4, 4, 7, 0), I(ADDI, 4, 4, 0, 1), /* x = 3x + 1 (12) */
    /* 13 */ I(SHRI, 4, 4, 0, 1),            /* odd steps fall through here too: (3x+1)/2 */
    /* 14 */ I(JMP, 0, 0, 0, 6),
    /* 15 */ I(ADDI, 1, 1, 0, 1),
    /* 16 */ I(JLT, 1, 2, 0, 5),
    /* 17 */ I(HALT, 0, 0, 0, 0),
};

/* r1 = i, r2 = j, r3 = acc, r4 = N, r8 = tmp; mix(r3, r8) is a subroutine at 14. */
static const Insn nested[] = {
    /* 0 */ I(LOADI, 4, 0, 0, 3000),
    /* 1 */ I(LOADI, 3, 0, 0, 7),
    /* 2 */ I(LOADI, 1, 0, 0, 0),
    /* 3 */ I(LOADI, 2, 0, 0, 0),           /* outer */
    /* 4 */ I(MUL, 8, 1, 2, 0),              /* inner: tmp = i * j */
    /* 5 */ I(ADD, 8, 8, 1, 0),
    /* 6 */ I(CALL, 0, 0, 0, 13),
    /* 7 */ I(ADDI, 2, 2, 0, 1),
    /* 8 */ I(JLT, 2, 4, 0, 4),
    /* 9 */ I(ADDI, 1, 1, 0, 1),
    /* 10 */ I(JLT, 1, 4, 0, 3),
    /* 11 */ I(HALT, 0, 0, 0, 0),
    /* 12 */ I(HALT, 0, 0, 0, 0),
    /* 13 */ I(XOR, 3, 3, 8, 0),             /* mix: acc ^= tmp; acc = acc * 0x2545F491 mod 2^64 */
    /* 14 */ I(LOADI, 9, 0, 0, 0x2545F491),
    /* 15 */ I(MUL, 3, 3, 9, 0),
    /* 16 */ I(SHRI, 10, 3, 0, 29),
    /* 17 */ I(XOR, 3, 3, 10, 0),
    /* 18 */ I(LOADI, 11, 0, 0, 1000003),
    /* 19 */ I(REMU, 12, 3, 11, 0),
    /* 20 */ I(ADD, 3, 3, 12, 0),
    /* 21 */ I(RET, 0, 0, 0, 0),
};

int main(void) {
  uint64_t r[16] = {0};
  uint64_t executed = run(collatz, r);
  printf("collatz: steps %llu, instructions %llu\n", (unsigned long long)r[3], (unsigned long long)executed);
  uint64_t s[16] = {0};
  executed = run(nested, s);
  printf("nested: acc %016llx, instructions %llu\n", (unsigned long long)s[3], (unsigned long long)executed);
  return 0;
}
