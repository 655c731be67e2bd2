/* Tight loops of batch scoring (mqlml.kernels): compiled once per machine with the
 * system C compiler, loaded with ctypes. Plain C99, no fast-math: every sum runs in the
 * order the numpy fallbacks use, so both give the same numbers. */
#include <stdint.h>

/* out[i, :] = sum over trees t, in order, of flat[offsets[t] + leaves[i, t], :]. Tables
 * of up to four columns (the log-odds and the group parts) keep the sums in registers,
 * W a constant in each case that the compiler folds; wider ones (the path tables) sum in
 * out. Either way each column adds in tree order from 0.0. */
#define SMALL_SUMS(LEAF, W)                                                                \
    for (int64_t i = 0; i < n; i++) {                                                      \
        const LEAF *restrict leaf = leaves + i * trees;                                    \
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;                                     \
        for (int64_t t = 0; t < trees; t++) {                                              \
            const double *restrict row = flat + (offsets[t] + (int64_t)leaf[t]) * W;       \
            a0 += row[0];                                                                  \
            if (W > 1)                                                                     \
                a1 += row[1];                                                              \
            if (W > 2)                                                                     \
                a2 += row[2];                                                              \
            if (W > 3)                                                                     \
                a3 += row[3];                                                              \
        }                                                                                  \
        double *restrict acc = out + i * W;                                                \
        acc[0] = a0;                                                                       \
        if (W > 1)                                                                         \
            acc[1] = a1;                                                                   \
        if (W > 2)                                                                         \
            acc[2] = a2;                                                                   \
        if (W > 3)                                                                         \
            acc[3] = a3;                                                                   \
    }

#define PATH_SUMS(NAME, LEAF)                                                              \
    void NAME(const LEAF *restrict leaves, int64_t n, int64_t trees,                       \
              const int64_t *restrict offsets, const double *restrict flat, int64_t width, \
              double *restrict out)                                                        \
    {                                                                                      \
        switch (width) {                                                                   \
        case 1: SMALL_SUMS(LEAF, 1) return;                                                \
        case 2: SMALL_SUMS(LEAF, 2) return;                                                \
        case 3: SMALL_SUMS(LEAF, 3) return;                                                \
        case 4: SMALL_SUMS(LEAF, 4) return;                                                \
        }                                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                  \
            double *restrict acc = out + i * width;                                        \
            const LEAF *restrict leaf = leaves + i * trees;                                \
            for (int64_t j = 0; j < width; j++)                                            \
                acc[j] = 0.0;                                                              \
            for (int64_t t = 0; t < trees; t++) {                                          \
                const double *restrict row = flat + (offsets[t] + (int64_t)leaf[t]) * width; \
                for (int64_t j = 0; j < width; j++)                                        \
                    acc[j] += row[j];                                                      \
            }                                                                              \
        }                                                                                  \
    }

PATH_SUMS(path_sums_f64, double)
PATH_SUMS(path_sums_i32, int32_t)
PATH_SUMS(path_sums_u16, uint16_t)
PATH_SUMS(path_sums_u8, uint8_t)

/* Leaf numbers packed by the compiled trees: tree t = i * k + j adds its leaf number
 * times 2^(bits * i) to output j (whole numbers below 2^53, exact in a double), so
 * out[r, t] = (packed[r, j] >> (bits * i)) & (2^bits - 1). */
#define UNPACK(NAME, LEAF)                                                                 \
    void NAME(const double *restrict packed, int64_t n, int64_t k, int64_t trees,          \
              int64_t bits, LEAF *restrict out)                                            \
    {                                                                                      \
        const int64_t mask = ((int64_t)1 << bits) - 1;                                     \
        for (int64_t r = 0; r < n; r++) {                                                  \
            LEAF *restrict leaf = out + r * trees;                                         \
            for (int64_t j = 0; j < k; j++) {                                              \
                int64_t v = (int64_t)packed[r * k + j];                                    \
                for (int64_t t = j; t < trees; t += k, v >>= bits)                         \
                    leaf[t] = (LEAF)(v & mask);                                            \
            }                                                                              \
        }                                                                                  \
    }

UNPACK(unpack_leaves_i32, int32_t)
UNPACK(unpack_leaves_u16, uint16_t)
UNPACK(unpack_leaves_u8, uint8_t)

/* Per row, up to `top` columns strongest first: the largest values above `floor`
 * (ties: the first column) or, with positive == 0, the smallest below -floor (ties: the
 * last column). Writes one (row, column, value) per reason and each row's count;
 * returns how many reasons in all. `used` is scratch of k bytes. */
int64_t reason_slots(const double *restrict values, int64_t n, int64_t k, int64_t top,
                     double floor, int32_t positive, int64_t *restrict rows,
                     int64_t *restrict columns, double *restrict picked,
                     int64_t *restrict counts, uint8_t *restrict used)
{
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *row = values + i * k;
        int64_t count = 0;
        for (int64_t j = 0; j < k; j++)
            used[j] = 0;
        for (int64_t s = 0; s < top; s++) {
            int64_t best = -1;
            for (int64_t j = 0; j < k; j++) {
                if (used[j])
                    continue;
                if (best < 0 || (positive ? row[j] > row[best] : row[j] <= row[best]))
                    best = j;
            }
            double v = row[best];
            if (positive ? !(v > floor) : !(v < -floor))
                break;
            used[best] = 1;
            rows[at] = i;
            columns[at] = best;
            picked[at] = v;
            at++;
            count++;
        }
        counts[i] = count;
    }
    return at;
}

/* Tabulation hashing: out[i] = XOR over the bytes of string i of table[position, byte]. */
void xor_hashes(const uint8_t *restrict data, const int64_t *restrict firsts,
                const int64_t *restrict lengths, int64_t n, const uint64_t *restrict table,
                uint64_t *restrict out)
{
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *s = data + firsts[i];
        uint64_t h = 0;
        for (int64_t p = 0; p < lengths[i]; p++)
            h ^= table[p * 256 + s[p]];
        out[i] = h;
    }
}

/* Reason strings: row i joins the next counts[i] reasons with "; ", reason r written as
 * prefix[columns[r]] + text[texts[r]] + " (" + '-' or '+' (negative[r]) + cents[r] / 100
 * + "." + two digits + ")", prefixes and texts given as bytes and int64 (prefixes) or int32 (texts, Arrow)
 * offsets. With out == NULL only sizes: ends[i] is where row i's string ends; returns the
 * bytes in all either way. */
static int64_t digits(int64_t v)
{
    int64_t d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

int64_t join_reasons(int64_t n, const int64_t *restrict counts, const int64_t *restrict columns,
                     const int64_t *restrict cents, const uint8_t *restrict negative,
                     const int64_t *restrict texts,
                     const uint8_t *restrict prefix_data, const int64_t *restrict prefix_offsets,
                     const uint8_t *restrict text_data, const int32_t *restrict text_offsets,
                     int64_t *restrict ends, uint8_t *restrict out)
{
    int64_t at = 0, r = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t c = 0; c < counts[i]; c++, r++) {
            if (c) {
                if (out) {
                    out[at] = ';';
                    out[at + 1] = ' ';
                }
                at += 2;
            }
            const int64_t p0 = prefix_offsets[columns[r]], p1 = prefix_offsets[columns[r] + 1];
            const int64_t t0 = text_offsets[texts[r]], t1 = text_offsets[texts[r] + 1];
            const int64_t v = cents[r];
            const int64_t whole = v / 100, width = digits(whole);
            if (out) {
                uint8_t *w = out + at;
                for (int64_t j = p0; j < p1; j++)
                    *w++ = prefix_data[j];
                for (int64_t j = t0; j < t1; j++)
                    *w++ = text_data[j];
                *w++ = ' ';
                *w++ = '(';
                *w++ = negative[r] ? '-' : '+';
                int64_t rest = whole;
                for (int64_t j = width - 1; j >= 0; j--, rest /= 10)
                    w[j] = (uint8_t)('0' + rest % 10);
                w += width;
                *w++ = '.';
                *w++ = (uint8_t)('0' + (v % 100) / 10);
                *w++ = (uint8_t)('0' + v % 10);
                *w++ = ')';
            }
            at += (p1 - p0) + (t1 - t0) + 7 + width;
        }
        ends[i] = at;
    }
    return at;
}
