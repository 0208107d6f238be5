// The `client` world of wit/text.wit: `run` builds a one-line report on its input from calls to
// every function of the imported `stats` interface. Composed with text-stats, each of those calls
// goes through a fused adapter between the two components.
//
// The report, as tests/all/toolchain.rs recomputes it:
//   words=W lines=L longest=S numbers=N sum=S bad=B flags=F kind=K first=T kiln=P top=V
// where F lists the set features as letters (d digit, u upper, l lower, s space, n non-ASCII),
// K is the first-kind case name, T is `number:V`, `word:S` or `empty`, P is the byte offset of
// "kiln" or `none`, and V is `BYTExCOUNT` for the most frequent byte (the smallest on ties) or
// `none` for an empty input. `sum` wraps around like a u64, printed as s64.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

typedef struct {
  uint8_t *ptr;
  size_t len, cap;
} buf_t;

static void put_bytes(buf_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n) cap *= 2;
    b->ptr = realloc(b->ptr, cap);
    if (!b->ptr) __builtin_trap();
    b->cap = cap;
  }
  if (n) memcpy(b->ptr + b->len, p, n);
  b->len += n;
}

static void put_str(buf_t *b, const char *s) { put_bytes(b, s, strlen(s)); }

static void put_u64(buf_t *b, uint64_t v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) put_bytes(b, &digits[--n], 1);
}

static void put_i64(buf_t *b, int64_t v) {
  if (v < 0) {
    put_str(b, "-");
    put_u64(b, 0 - (uint64_t)v);
  } else {
    put_u64(b, (uint64_t)v);
  }
}

static const char *kind_name(kiln_test_text_stats_char_kind_t k) {
  switch (k) {
    case KILN_TEST_TEXT_STATS_CHAR_KIND_NONE: return "none";
    case KILN_TEST_TEXT_STATS_CHAR_KIND_LETTER: return "letter";
    case KILN_TEST_TEXT_STATS_CHAR_KIND_DIGIT: return "digit";
    case KILN_TEST_TEXT_STATS_CHAR_KIND_SPACE: return "space";
    case KILN_TEST_TEXT_STATS_CHAR_KIND_PUNCT: return "punct";
    default: return "other";
  }
}

void exports_client_run(client_string_t *input, client_string_t *ret) {
  buf_t b = {NULL, 0, 0};

  kiln_test_text_stats_summary_t summary;
  kiln_test_text_stats_analyze(input, &summary);
  put_str(&b, "words=");
  put_u64(&b, summary.words);
  put_str(&b, " lines=");
  put_u64(&b, summary.lines);
  put_str(&b, " longest=");
  put_bytes(&b, summary.longest.ptr, summary.longest.len);
  kiln_test_text_stats_summary_free(&summary);

  client_list_string_t tokens;
  kiln_test_text_stats_tokenize(input, &tokens);
  uint64_t numbers = 0, bad = 0, sum = 0;
  for (size_t i = 0; i < tokens.len; i++) {
    int64_t value;
    kiln_test_text_stats_parse_error_t err;
    if (kiln_test_text_stats_parse_int(&tokens.ptr[i], &value, &err)) {
      numbers++;
      sum += (uint64_t)value;
    } else if (err != KILN_TEST_TEXT_STATS_PARSE_ERROR_INVALID_DIGIT) {
      bad++;
    }
  }
  client_list_string_free(&tokens);
  put_str(&b, " numbers=");
  put_u64(&b, numbers);
  put_str(&b, " sum=");
  put_i64(&b, (int64_t)sum);
  put_str(&b, " bad=");
  put_u64(&b, bad);

  kiln_test_text_stats_features_t f = kiln_test_text_stats_classify(input);
  put_str(&b, " flags=");
  if (f & KILN_TEST_TEXT_STATS_FEATURES_HAS_DIGIT) put_str(&b, "d");
  if (f & KILN_TEST_TEXT_STATS_FEATURES_HAS_UPPER) put_str(&b, "u");
  if (f & KILN_TEST_TEXT_STATS_FEATURES_HAS_LOWER) put_str(&b, "l");
  if (f & KILN_TEST_TEXT_STATS_FEATURES_HAS_SPACE) put_str(&b, "s");
  if (f & KILN_TEST_TEXT_STATS_FEATURES_HAS_NON_ASCII) put_str(&b, "n");

  put_str(&b, " kind=");
  put_str(&b, kind_name(kiln_test_text_stats_first_kind(input)));

  kiln_test_text_stats_token_t first;
  kiln_test_text_stats_first_token(input, &first);
  put_str(&b, " first=");
  switch (first.tag) {
    case KILN_TEST_TEXT_STATS_TOKEN_NUMBER:
      put_str(&b, "number:");
      put_i64(&b, first.val.number);
      break;
    case KILN_TEST_TEXT_STATS_TOKEN_WORD:
      put_str(&b, "word:");
      put_bytes(&b, first.val.word.ptr, first.val.word.len);
      break;
    default:
      put_str(&b, "empty");
  }
  kiln_test_text_stats_token_free(&first);

  client_string_t needle = {(uint8_t *)"kiln", 4};
  uint32_t at;
  put_str(&b, " kiln=");
  if (kiln_test_text_stats_find(input, &needle, &at)) put_u64(&b, at);
  else put_str(&b, "none");

  client_list_u8_t bytes = {input->ptr, input->len};
  client_list_u32_t counts;
  kiln_test_text_stats_histogram(&bytes, &counts);
  size_t top = 0;
  for (size_t i = 1; i < counts.len; i++)
    if (counts.ptr[i] > counts.ptr[top]) top = i;
  put_str(&b, " top=");
  if (counts.len == 256 && counts.ptr[top]) {
    put_u64(&b, top);
    put_str(&b, "x");
    put_u64(&b, counts.ptr[top]);
  } else {
    put_str(&b, "none");
  }
  client_list_u32_free(&counts);

  client_string_free(input);
  ret->ptr = b.ptr;
  ret->len = b.len;
}
