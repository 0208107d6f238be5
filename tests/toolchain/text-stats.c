// The `text-stats` world of wit/text.wit: text statistics over UTF-8 bytes, calling the host's
// `log` as it goes. Built by scripts/build-test-components with bindings from `wit-bindgen c`.
//
// Only malloc/free/memcpy come from wasi-libc, so the core module imports nothing from WASI.
// Exported functions own their arguments (and free them); what they return is freed by the
// generated post-return functions.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text_stats.h"

typedef text_stats_string_t string_t;

static int is_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) __builtin_trap();
  return p;
}

static string_t copy_bytes(const uint8_t *p, size_t n) {
  string_t s = {NULL, 0};
  if (n) {
    s.ptr = xmalloc(n);
    memcpy(s.ptr, p, n);
    s.len = n;
  }
  return s;
}

// A message builder for `log`: bytes and decimal numbers, no stdio.
typedef struct {
  uint8_t buf[128];
  size_t len;
} msg_t;

static void msg_str(msg_t *m, const char *s) {
  while (*s && m->len < sizeof m->buf) m->buf[m->len++] = (uint8_t)*s++;
}

static void msg_u64(msg_t *m, uint64_t v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && m->len < sizeof m->buf) m->buf[m->len++] = (uint8_t)digits[--n];
}

static void msg_send(msg_t *m) {
  string_t s = {m->buf, m->len};
  kiln_test_text_logging_log(&s);
}

void exports_kiln_test_text_stats_analyze(string_t *text, exports_kiln_test_text_stats_summary_t *ret) {
  uint32_t words = 0, lines = 0;
  size_t best_start = 0, best_len = 0;
  size_t i = 0, n = text->len;
  const uint8_t *p = text->ptr;
  for (size_t k = 0; k < n; k++)
    if (p[k] == '\n') lines++;
  if (n && p[n - 1] != '\n') lines++;
  while (i < n) {
    while (i < n && is_space(p[i])) i++;
    if (i == n) break;
    size_t start = i;
    while (i < n && !is_space(p[i])) i++;
    words++;
    if (i - start > best_len) {
      best_start = start;
      best_len = i - start;
    }
  }
  ret->words = words;
  ret->lines = lines;
  ret->longest = copy_bytes(p + best_start, best_len);

  msg_t m = {.len = 0};
  msg_str(&m, "analyze: ");
  msg_u64(&m, n);
  msg_str(&m, " bytes, ");
  msg_u64(&m, words);
  msg_str(&m, " words");
  msg_send(&m);
  text_stats_string_free(text);
}

void exports_kiln_test_text_stats_tokenize(string_t *text, text_stats_list_string_t *ret) {
  const uint8_t *p = text->ptr;
  size_t n = text->len, cap = 8, count = 0, i = 0;
  string_t *tokens = xmalloc(cap * sizeof *tokens);
  while (i < n) {
    while (i < n && is_space(p[i])) i++;
    if (i == n) break;
    size_t start = i;
    while (i < n && !is_space(p[i])) i++;
    if (count == cap) {
      cap *= 2;
      tokens = realloc(tokens, cap * sizeof *tokens);
      if (!tokens) __builtin_trap();
    }
    tokens[count++] = copy_bytes(p + start, i - start);
  }
  ret->ptr = tokens;
  ret->len = count;

  msg_t m = {.len = 0};
  msg_str(&m, "tokenize: ");
  msg_u64(&m, count);
  msg_str(&m, " tokens");
  msg_send(&m);
  text_stats_string_free(text);
}

void exports_kiln_test_text_stats_histogram(text_stats_list_u8_t *data, text_stats_list_u32_t *ret) {
  uint32_t *counts = xmalloc(256 * sizeof *counts);
  memset(counts, 0, 256 * sizeof *counts);
  for (size_t i = 0; i < data->len; i++) counts[data->ptr[i]]++;
  ret->ptr = counts;
  ret->len = 256;
  text_stats_list_u8_free(data);
}

// Parses p[0..n) as [+-]digits into *out.
static int parse_i64(const uint8_t *p, size_t n, int64_t *out) {
  size_t i = 0;
  int negative = 0;
  if (n == 0) return EXPORTS_KILN_TEST_TEXT_STATS_PARSE_ERROR_EMPTY;
  if (p[0] == '+' || p[0] == '-') {
    negative = p[0] == '-';
    i = 1;
    if (n == 1) return EXPORTS_KILN_TEST_TEXT_STATS_PARSE_ERROR_INVALID_DIGIT;
  }
  // Accumulate the magnitude as unsigned: the limit is 2^63 for a negative number.
  uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t value = 0;
  for (; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return EXPORTS_KILN_TEST_TEXT_STATS_PARSE_ERROR_INVALID_DIGIT;
    uint64_t digit = p[i] - '0';
    if (value > (limit - digit) / 10) return EXPORTS_KILN_TEST_TEXT_STATS_PARSE_ERROR_OVERFLOW;
    value = value * 10 + digit;
  }
  *out = negative ? (int64_t)(0 - value) : (int64_t)value;
  return -1;
}

bool exports_kiln_test_text_stats_parse_int(string_t *text, int64_t *ret,
                                           exports_kiln_test_text_stats_parse_error_t *err) {
  int e = parse_i64(text->ptr, text->len, ret);
  text_stats_string_free(text);
  if (e >= 0) {
    *err = (exports_kiln_test_text_stats_parse_error_t)e;
    return false;
  }
  return true;
}

bool exports_kiln_test_text_stats_find(string_t *haystack, string_t *needle, uint32_t *ret) {
  bool found = false;
  if (needle->len <= haystack->len) {
    for (size_t i = 0; i + needle->len <= haystack->len; i++) {
      if (memcmp(haystack->ptr + i, needle->ptr, needle->len) == 0) {
        *ret = (uint32_t)i;
        found = true;
        break;
      }
    }
  }
  text_stats_string_free(haystack);
  text_stats_string_free(needle);
  return found;
}

exports_kiln_test_text_stats_features_t exports_kiln_test_text_stats_classify(string_t *text) {
  exports_kiln_test_text_stats_features_t f = 0;
  for (size_t i = 0; i < text->len; i++) {
    uint8_t c = text->ptr[i];
    if (c >= '0' && c <= '9') f |= EXPORTS_KILN_TEST_TEXT_STATS_FEATURES_HAS_DIGIT;
    else if (c >= 'A' && c <= 'Z') f |= EXPORTS_KILN_TEST_TEXT_STATS_FEATURES_HAS_UPPER;
    else if (c >= 'a' && c <= 'z') f |= EXPORTS_KILN_TEST_TEXT_STATS_FEATURES_HAS_LOWER;
    else if (is_space(c)) f |= EXPORTS_KILN_TEST_TEXT_STATS_FEATURES_HAS_SPACE;
    else if (c >= 0x80) f |= EXPORTS_KILN_TEST_TEXT_STATS_FEATURES_HAS_NON_ASCII;
  }
  text_stats_string_free(text);
  return f;
}

exports_kiln_test_text_stats_char_kind_t exports_kiln_test_text_stats_first_kind(string_t *text) {
  exports_kiln_test_text_stats_char_kind_t kind = EXPORTS_KILN_TEST_TEXT_STATS_CHAR_KIND_NONE;
  if (text->len) {
    uint8_t c = text->ptr[0];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) kind = EXPORTS_KILN_TEST_TEXT_STATS_CHAR_KIND_LETTER;
    else if (c >= '0' && c <= '9') kind = EXPORTS_KILN_TEST_TEXT_STATS_CHAR_KIND_DIGIT;
    else if (is_space(c)) kind = EXPORTS_KILN_TEST_TEXT_STATS_CHAR_KIND_SPACE;
    else if (c >= 0x21 && c <= 0x7e) kind = EXPORTS_KILN_TEST_TEXT_STATS_CHAR_KIND_PUNCT;
    else kind = EXPORTS_KILN_TEST_TEXT_STATS_CHAR_KIND_OTHER;
  }
  text_stats_string_free(text);
  return kind;
}

void exports_kiln_test_text_stats_first_token(string_t *text, exports_kiln_test_text_stats_token_t *ret) {
  const uint8_t *p = text->ptr;
  size_t n = text->len, i = 0;
  while (i < n && is_space(p[i])) i++;
  size_t start = i;
  while (i < n && !is_space(p[i])) i++;
  int64_t number;
  if (start == n) {
    ret->tag = EXPORTS_KILN_TEST_TEXT_STATS_TOKEN_EMPTY;
  } else if (parse_i64(p + start, i - start, &number) < 0) {
    ret->tag = EXPORTS_KILN_TEST_TEXT_STATS_TOKEN_NUMBER;
    ret->val.number = number;
  } else {
    ret->tag = EXPORTS_KILN_TEST_TEXT_STATS_TOKEN_WORD;
    ret->val.word = copy_bytes(p + start, i - start);
  }
  text_stats_string_free(text);
}
