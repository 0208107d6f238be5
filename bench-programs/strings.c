/* String processing over generated text: split it into lower-cased words, count them in a
 * chained hash table keyed by the word's bytes, report the most frequent ones, and count the
 * occurrences of a few patterns with Boyer-Moore-Horspool search. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_SIZE (32u << 20)
#define TABLE_SIZE 4096

static uint32_t rng_state = 88172645u;

static uint32_t next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

typedef struct Entry {
  struct Entry *next;
  uint32_t hash;
  uint32_t count;
  char word[];
} Entry;

static Entry *table[TABLE_SIZE];
static uint32_t distinct;

static void count_word(const char *w, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)w[i]) * 16777619u;
  Entry **slot = &table[h % TABLE_SIZE];
  for (Entry *e = *slot; e; e = e->next)
    if (e->hash == h && strncmp(e->word, w, len) == 0 && e->word[len] == 0) {
      e->count++;
      return;
    }
  Entry *e = malloc(sizeof *e + len + 1);
  if (!e) exit(1);
  memcpy(e->word, w, len);
  e->word[len] = 0;
  e->hash = h;
  e->count = 1;
  e->next = *slot;
  *slot = e;
  distinct++;
}

static size_t horspool_count(const char *text, size_t n, const char *pattern) {
  size_t m = strlen(pattern);
  size_t shift[256];
  for (int i = 0; i < 256; i++) shift[i] = m;
  for (size_t i = 0; i + 1 < m; i++) shift[(uint8_t)pattern[i]] = m - 1 - i;
  size_t count = 0;
  for (size_t pos = 0; pos + m <= n; pos += shift[(uint8_t)text[pos + m - 1]])
    if (text[pos + m - 1] == pattern[m - 1] && memcmp(text + pos, pattern, m - 1) == 0) count++;
  return count;
}

static int by_count_then_word(const void *pa, const void *pb) {
  const Entry *a = *(Entry *const *)pa, *b = *(Entry *const *)pb;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  return strcmp(a->word, b->word);
}

int main(void) {
  static const char *parts[] = {"the", "Kiln", "wasm", "fire", "clay", "glaze", "pot", "an",  "ash",
                                "Ember", "heat", "cone", "slip", "wheel", "kiln", "TEMPER", "of", "and"};
  char *text = malloc(TEXT_SIZE + 1);
  if (!text) return 1;
  size_t n = 0;
  while (n + 64 < TEXT_SIZE) {
    int pieces = 1 + (int)(next_random() % 3);
    for (int p = 0; p < pieces; p++) {
      const char *s = parts[next_random() % 18];
      size_t l = strlen(s);
      memcpy(text + n, s, l);
      n += l;
    }
    uint32_t sep = next_random() % 20;
    text[n++] = sep == 0 ? '.' : sep == 1 ? '\n' : sep == 2 ? '-' : ' ';
  }
  text[n] = 0;

  /* Tokenise in place: words are runs of letters, compared case-insensitively. */
  char word[64];
  size_t words = 0;
  for (size_t i = 0; i < n;) {
    while (i < n && !isalpha((unsigned char)text[i])) i++;
    size_t len = 0;
    while (i < n && isalpha((unsigned char)text[i])) {
      if (len < sizeof word - 1) word[len++] = (char)tolower((unsigned char)text[i]);
      i++;
    }
    if (len > 0) {
      count_word(word, len);
      words++;
    }
  }

  Entry **all = malloc(sizeof *all * distinct);
  if (!all) return 1;
  size_t k = 0;
  for (int b = 0; b < TABLE_SIZE; b++)
    for (Entry *e = table[b]; e; e = e->next) all[k++] = e;
  qsort(all, distinct, sizeof *all, by_count_then_word);
  printf("%zu bytes, %zu words, %u distinct\n", n, words, distinct);
  for (int i = 0; i < 5 && i < (int)distinct; i++) printf("  %s %u\n", all[i]->word, all[i]->count);

  static const char *patterns[] = {"kiln", "glaze pot", "Ember heat", "the the", "TEMPERof", "ash.", "slipwheelcone"};
  for (int p = 0; p < 7; p++) printf("  \"%s\": %zu\n", patterns[p], horspool_count(text, n, patterns[p]));
  return 0;
}
