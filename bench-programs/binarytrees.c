/* Binary trees (allocation heavy): builds and walks many perfect binary trees with malloc and
 * free, while one long-lived tree stays allocated, as in the classic benchmark. Prints the node
 * check counts per depth. */
#include <stdio.h>
#include <stdlib.h>

#define MAX_DEPTH 17
#define MIN_DEPTH 4

typedef struct Node {
  struct Node *left, *right;
} Node;

static Node *build(int depth) {
  Node *n = malloc(sizeof *n);
  if (!n) exit(1);
  if (depth > 0) {
    n->left = build(depth - 1);
    n->right = build(depth - 1);
  } else {
    n->left = n->right = NULL;
  }
  return n;
}

static long check(const Node *n) { return n->left ? 1 + check(n->left) + check(n->right) : 1; }

static void release(Node *n) {
  if (n->left) {
    release(n->left);
    release(n->right);
  }
  free(n);
}

int main(void) {
  Node *stretch = build(MAX_DEPTH + 1);
  printf("stretch tree of depth %d\t check: %ld\n", MAX_DEPTH + 1, check(stretch));
  release(stretch);
  Node *long_lived = build(MAX_DEPTH);
  for (int depth = MIN_DEPTH; depth <= MAX_DEPTH; depth += 2) {
    long iterations = 1L << (MAX_DEPTH - depth + MIN_DEPTH), sum = 0;
    for (long i = 0; i < iterations; i++) {
      Node *t = build(depth);
      sum += check(t);
      release(t);
    }
    printf("%ld\t trees of depth %d\t check: %ld\n", iterations, depth, sum);
  }
  printf("long lived tree of depth %d\t check: %ld\n", MAX_DEPTH, check(long_lived));
  release(long_lived);
  return 0;
}
