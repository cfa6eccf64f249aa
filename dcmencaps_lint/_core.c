/*
 * The compiled core of encaps-lint: the loops that run once per item or per frame of a
 * whole-slide image (hundreds of thousands of times), in C.
 *
 *   items(fd, size, buffer, position, end, family)
 *       The ordinary items (tag FFFE,E000, a length that fits) from `position` on:
 *       (offsets as native uint64 bytes, lengths as native uint32 bytes, position where
 *       something else starts, facts): walker.py's columns, an array each. walker.py's
 *       careful loop handles whatever comes next, as it does after its own Python loop.
 *       With a codec family, each item's facts too, in the same pass over the file:
 *       (heads, tails, ends), the ids of what the item's first bytes say should it start
 *       a frame and of how it ends should it end one (uint32 arrays), and per head id
 *       whether a frame that starts so has an end to judge. A long run of dense items
 *       is walked by two threads (see SPLIT_MIN), without the GIL.
 *
 *   groups_of(heads, tails, ends, base, firsts, lasts, count)
 *       Frame numbers grouped by those ids: no second pass over the file.
 *
 *   frame_groups(fd, size, buffer, family, offsets, lengths, availables, firsts, lasts)
 *       The same groups read from the file, frame by frame (frames whose items were not
 *       all walked in one pass of `items`). Columns are arrays of unsigned numbers or
 *       sequences of ints (Column), here and in table_matches, bits_of and lowest.
 *
 *   frame_facts(fd, size, buffer, family, value, available, last_value, last_length,
 *               last_available)
 *       One frame's facts as the rules see them (facts.frame_facts): the fields of its
 *       Start, End and codestream header, positions included.
 *
 *   scan_dataset(fd, size, buffer, long_vrs, short_vrs, wanted, identifying, stops,
 *                max_nesting)
 *       scanner.py's walk of the data set in front of Pixel Data: the headers of the
 *       Transfer Syntax UID, of Pixel Data and of the wanted elements, where the data
 *       set starts, and the identifying values' spans; None where it declines.
 *
 *   Groups are the frames' numbers by their facts (facts.py: facts_key), in order of
 *   first appearance: the same partition as the Python twin.
 *
 * The data is a file descriptor (`fd` >= 0; read a BLOCK at a time where items are
 * dense, else LOOKAHEAD bytes at a time) or a buffer (`fd` -1). Everything read is hostile: every
 * read is clipped to the data's size and to the fragment it belongs to, lengths are
 * never trusted for an allocation, and loops are bounded as in the Python code they
 * mirror (codestream.py, facts.py, walker.py). Change one, change the other: the
 * differential tests compare both on every input of the test suite and every fuzz
 * mutant.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define ITEM_HEADER 8
#define DENSE_PROBE 64                  /* walker.DENSE_PROBE */
#define DENSE_SPACING ((uint64_t)64 << 10)
#define UNDEFINED_LENGTH 0xFFFFFFFFu

/* facts.py */
#define HEAD_BYTES 16
#define FILL_HEAD 256
#define TAIL_BYTES 64
#define HEADER_READ 1024
/* codestream.py */
#define MAX_SEGMENTS 256
#define FILL_LIMIT 30
#define SHORT_APP 64

#define FAMILY_JPEG 1
#define FAMILY_J2K 2

/* ---- reading ------------------------------------------------------------------------ */

/* Where items are dense, the file is read a BLOCK at a time into a buffer, and each
 * item's header, first bytes and last bytes are read from there: a slice of memory each
 * instead of a system call. (Mapping the file instead was measured slower: the kernel's
 * work of mapping and unmapping each page, and a cache miss on each item's first touch,
 * cost more than copying the bytes into a buffer that stays in the processor's cache;
 * benchmarks/README.md.) A file cut short while it is read gives a short block, as a
 * short pread; nothing is ever read past what the file holds. */
#define BLOCK ((uint64_t)1 << 20)
/* Where items are far apart, each read takes this much, so that one pread of a frame's
 * last bytes also brings the next item's header and its value's first bytes (what the
 * walk reads next): one system call per item instead of three. */
#define LOOKAHEAD ((uint64_t)4 << 10)
_Static_assert(LOOKAHEAD >= TAIL_BYTES + 8 + HEADER_READ, "a tail, an item header, a head");
#if defined(__unix__) || defined(__APPLE__) /* POSIX threads: the second walker (SPLIT_MIN) */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#define HAVE_THREADS 1
#else
#define HAVE_THREADS 0
#endif

typedef struct {
    int fd;                 /* -1: all the data is in `memory` */
    const uint8_t *memory;
    uint64_t size;          /* bytes of data; nothing at or past it is read */
    int dense;              /* read by BLOCK rather than pread each read */
    uint8_t *block;         /* the file's bytes from block_start on, or NULL */
    uint64_t block_capacity; /* bytes `block` can hold: LOOKAHEAD, then BLOCK once dense */
    uint64_t block_start;
    uint64_t block_length;
    int error;              /* errno of a failed read, 0 if none */
    uint8_t scratch[HEADER_READ];
    uint8_t aside[HEADER_READ]; /* for source_aside: the block and scratch stay */
} Source;

/* pread `count` bytes into `into`: how many there were (fewer where the file ends), -1
 * on error. */
static int64_t source_pread(Source *s, uint64_t offset, uint64_t count, uint8_t *into) {
    uint64_t got = 0;
    while (got < count) {
        ssize_t n = pread(s->fd, into + got, (size_t)(count - got), (off_t)(offset + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            s->error = errno;
            return -1;
        }
        if (n == 0)
            break; /* the file was cut short while being read */
        got += (uint64_t)n;
    }
    return (int64_t)got;
}

/* The bytes at `offset`, when the block holds `count` of them; NULL otherwise. */
static const uint8_t *in_block(const Source *s, uint64_t offset, uint64_t count) {
    if (s->block == NULL || offset < s->block_start ||
        offset - s->block_start > s->block_length ||
        count > s->block_length - (offset - s->block_start))
        return NULL;
    return s->block + (offset - s->block_start);
}

/* Up to `count` (<= HEADER_READ) bytes at `offset`: how many there are, and where
 * (`*out`, valid until the next read). Fewer at the end of the data; -1 on a read error. */
static int64_t source_read(Source *s, uint64_t offset, uint64_t count, const uint8_t **out) {
    const uint8_t *held;
    uint64_t ahead;
    int64_t got;
    *out = s->scratch;
    if (offset >= s->size || count == 0)
        return 0;
    if (count > s->size - offset)
        count = s->size - offset;
    if (count > HEADER_READ)
        count = HEADER_READ;
    if (s->fd < 0) {
        *out = s->memory + offset;
        return (int64_t)count;
    }
    if ((held = in_block(s, offset, count)) != NULL) {
        *out = held;
        return (int64_t)count;
    }
    ahead = s->dense ? BLOCK : LOOKAHEAD;
    if (s->block_capacity < ahead) { /* the first read, or the first where items are dense */
        PyMem_RawFree(s->block);
        s->block = PyMem_RawMalloc((size_t)ahead);
        s->block_capacity = s->block == NULL ? 0 : ahead;
        s->block_length = 0;
        if (s->block == NULL)
            return source_pread(s, offset, count, s->scratch);
    }
    got = source_pread(s, offset, ahead < s->size - offset ? ahead : s->size - offset, s->block);
    s->block_start = offset;
    s->block_length = got < 0 ? 0 : (uint64_t)got;
    if (got < 0)
        return -1;
    *out = s->block;
    return (int64_t)(s->block_length < count ? s->block_length : count);
}

/* source_read that leaves the block and the scratch buffer alone (what an earlier read
 * returned stays valid): for the few reads of a header beyond its first bytes. */
static int64_t source_aside(Source *s, uint64_t offset, uint64_t count, const uint8_t **out) {
    const uint8_t *held;
    *out = s->aside;
    if (offset >= s->size || count == 0)
        return 0;
    if (count > s->size - offset)
        count = s->size - offset;
    if (count > HEADER_READ)
        count = HEADER_READ;
    if (s->fd < 0) {
        *out = s->memory + offset;
        return (int64_t)count;
    }
    if ((held = in_block(s, offset, count)) != NULL) {
        *out = held;
        return (int64_t)count;
    }
    return source_pread(s, offset, count, s->aside);
}

static int source_open(Source *s, int fd, unsigned long long size, Py_buffer *buffer) {
    memset(s, 0, offsetof(Source, scratch));
    s->fd = fd;
    s->size = size;
    if (fd < 0) {
        if (buffer == NULL || buffer->buf == NULL) {
            PyErr_SetString(PyExc_ValueError, "a buffer is needed when fd is -1");
            return -1;
        }
        s->memory = (const uint8_t *)buffer->buf;
        if ((uint64_t)buffer->len < s->size)
            s->size = (uint64_t)buffer->len;
    }
    return 0;
}

/* Let go of the block (a Source may be closed more than once). */
static void source_release(Source *s) {
    PyMem_RawFree(s->block);
    s->block = NULL;
    s->block_capacity = 0;
}

static int source_close(Source *s) {
    source_release(s);
    if (s->error) {
        errno = s->error;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

/* The data a call names: a file descriptor, or `memory` (a buffer, held in `buffer`
 * until the caller releases it) when fd is -1. -1 with an exception set on failure. */
static int source_from(Source *s, int fd, unsigned long long size, PyObject *memory,
                       Py_buffer *buffer) {
    if (memory != Py_None && PyObject_GetBuffer(memory, buffer, PyBUF_SIMPLE) != 0)
        return -1;
    if (source_open(s, fd, size, memory != Py_None ? buffer : NULL) != 0) {
        if (memory != Py_None)
            PyBuffer_Release(buffer);
        return -1;
    }
    return 0;
}

/* The codec families the facts are computed for; 0 (none) where `none` allows it. */
static int known_family(int family, int none) {
    if ((none && family == 0) || family == FAMILY_JPEG || family == FAMILY_J2K)
        return 1;
    PyErr_SetString(PyExc_ValueError, "unknown codec family");
    return 0;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- keys --------------------------------------------------------------------------- */

#define KEY_MAX 1024 /* a key is at most ~400 bytes (a 256-byte head, a 64-byte tail) */

typedef struct {
    uint8_t bytes[KEY_MAX];
    size_t length;
} Key;

static inline void put(Key *k, const void *data, size_t n) {
    if (k->length + n <= KEY_MAX) {
        memcpy(k->bytes + k->length, data, n);
        k->length += n;
    }
}
static inline void put_u8(Key *k, uint8_t v) { put(k, &v, 1); }
static inline void put_i64(Key *k, int64_t v) { put(k, &v, sizeof v); }
/* An optional field: present or not, then its value. */
static inline void put_opt(Key *k, int present, int64_t v) {
    put_u8(k, (uint8_t)(present != 0));
    if (present)
        put_i64(k, v);
}

/* A frame's first fragment, as the header parse sees it: reads clipped to its end,
 * served from its first bytes when they hold them. */
typedef struct {
    Source *source;
    const uint8_t *first; /* the fragment's first bytes */
    uint64_t first_length;
    uint64_t start;       /* absolute offset of the fragment's value */
    uint64_t end;         /* absolute offset just past it */
    uint64_t reached;     /* just past the last byte a read asked for (codestream._Window) */
} Fragment;

static int64_t fragment_read(Fragment *f, uint64_t offset, uint64_t count, const uint8_t **out) {
    *out = f->first;
    if (offset >= f->end)
        return 0;
    if (count > f->end - offset)
        count = f->end - offset;
    if (offset + count > f->reached)
        f->reached = offset + count;
    if (offset >= f->start && offset - f->start + count <= f->first_length) {
        *out = f->first + (offset - f->start);
        return (int64_t)count;
    }
    return source_aside(f->source, offset, count, out);
}

static int is_alpha(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* What codestream.parse_jpeg returns (JpegHeader); `found` 0 stands for None. */
typedef struct {
    int found;
    int64_t fill_bytes;
    int has_sof, has_geometry, has_dqt, has_dht, has_near, has_predictor, complete;
    uint8_t sof, precision, components, near, predictor;
    uint16_t rows, columns;
    uint64_t sof_offset, sos_offset, reached;
} JpegFields;

/* codestream.parse_jpeg, marker by marker, with the same bounds and stops. */
static void parse_jpeg(Fragment *f, JpegFields *h) {
    const uint8_t *p;
    int64_t got = fragment_read(f, f->start, FILL_LIMIT + 2, &p), fill = 0, segments;
    uint64_t position;
    memset(h, 0, sizeof *h);
    while (fill < got && p[fill] == 0xFF)
        fill++;
    if (fill < 1 || fill >= got || p[fill] != 0xD8)
        return; /* no SOI: no header */
    h->found = 1;
    h->fill_bytes = fill - 1;
    position = f->start + (uint64_t)fill + 1;
    for (segments = 0; segments < MAX_SEGMENTS; segments++) {
        uint8_t marker;
        uint16_t length;
        int go_on = 1;
        got = fragment_read(f, position, 4, &p);
        if (got < 2 || p[0] != 0xFF)
            break;
        marker = p[1];
        if (marker == 0xFF) { /* a fill byte between segments */
            position += 1;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { /* TEM, RSTn */
            position += 2;
            continue;
        }
        if (got < 4 || marker == 0xD9)
            break;
        length = be16(p + 2);
        if (length < 2)
            break;
        if ((marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
             marker != 0xCC) ||
            marker == 0xF7) {
            if (!h->has_sof) { /* a hierarchical stream's later frames do not count */
                h->has_sof = 1;
                h->sof = marker;
                h->sof_offset = position;
                if (fragment_read(f, position + 4, 6, &p) == 6) {
                    h->has_geometry = 1;
                    h->precision = p[0];
                    h->rows = be16(p + 1);
                    h->columns = be16(p + 3);
                    h->components = p[5];
                }
            }
        } else if (marker == 0xDB) {
            h->has_dqt = 1;
        } else if (marker == 0xC4) {
            h->has_dht = 1;
        } else if (marker == 0xDA) {
            uint64_t want = (uint64_t)(length - 2) < 64 ? (uint64_t)(length - 2) : 64;
            h->complete = 1;
            h->sos_offset = position;
            got = fragment_read(f, position + 4, want, &p);
            if (got > 0) {
                int64_t index = 1 + 2 * (int64_t)p[0];
                if (index < got) {
                    if (h->has_sof && h->sof == 0xF7) {
                        h->has_near = 1;
                        h->near = p[index];
                    } else {
                        h->has_predictor = 1;
                        h->predictor = p[index];
                    }
                }
            }
            go_on = 0;
        } else if (marker >= 0xE0 && marker <= 0xEF && length > SHORT_APP) {
            go_on = fragment_read(f, position + 4, 1, &p) == 1 && is_alpha(p[0]);
        }
        if (!go_on)
            break;
        position += 2 + (uint64_t)length;
    }
    h->reached = f->reached;
}

/* facts._header_key of a JPEG header: its fields, each offset reduced to presence. */
static void jpeg_fields_key(const JpegFields *h, Key *k) {
    put_u8(k, (uint8_t)h->found);
    if (!h->found)
        return;
    put_i64(k, h->fill_bytes);
    put_opt(k, h->has_sof, h->sof);
    put_opt(k, h->has_geometry, h->precision);
    put_opt(k, h->has_geometry, h->rows);
    put_opt(k, h->has_geometry, h->columns);
    put_opt(k, h->has_geometry, h->components);
    put_u8(k, (uint8_t)h->has_dqt);
    put_u8(k, (uint8_t)h->has_dht);
    put_opt(k, h->has_near, h->near);
    put_opt(k, h->has_predictor, h->predictor);
    put_u8(k, (uint8_t)h->complete);
}

/* What codestream.parse_j2k returns (J2kHeader); `found` 0 stands for None. */
typedef struct {
    int found;
    int has_siz, has_geometry, has_cod, has_coding, has_qcd, has_quantization;
    int has_cap, has_tlm, complete;
    int64_t rows, columns;
    uint16_t components;
    uint8_t precision, is_signed, progression, mct, levels, reversible, quantization;
    uint64_t siz_offset, cod_offset, qcd_offset, reached;
} J2kFields;

/* codestream.parse_j2k, marker by marker, with the same bounds and stops. */
static void parse_j2k(Fragment *f, J2kFields *h) {
    const uint8_t *p;
    uint64_t position;
    int segments;
    memset(h, 0, sizeof *h);
    if (fragment_read(f, f->start, 2, &p) != 2 || p[0] != 0xFF || p[1] != 0x4F) {
        h->reached = f->reached;
        return; /* no SOC: no header */
    }
    h->found = 1;
    position = f->start + 2;
    for (segments = 0; segments < MAX_SEGMENTS; segments++) {
        uint8_t marker;
        uint16_t length;
        uint64_t body = position + 4;
        int go_on = 1;
        if (fragment_read(f, position, 4, &p) < 4 || p[0] != 0xFF)
            break;
        marker = p[1];
        if (marker == 0x90) { /* SOT: the main header is over */
            h->complete = 1;
            break;
        }
        length = be16(p + 2);
        if (length < 2)
            break;
        if (marker == 0x51) { /* SIZ */
            h->has_siz = 1;
            h->siz_offset = position;
            go_on = 0;
            if (fragment_read(f, body, 39, &p) == 39) {
                uint16_t count = be16(p + 34);
                /* Lsiz = 38 + 3 Csiz, else bytes that merely look like SIZ: stop */
                if ((uint32_t)length == 38u + 3u * count) {
                    h->has_geometry = 1;
                    h->columns = (int64_t)be32(p + 2) - (int64_t)be32(p + 10);
                    h->rows = (int64_t)be32(p + 6) - (int64_t)be32(p + 14);
                    h->components = count;
                    h->precision = (uint8_t)((p[36] & 0x7F) + 1);
                    h->is_signed = (p[36] & 0x80) != 0;
                    go_on = 1;
                }
            }
        } else if (marker == 0x52) { /* COD */
            h->has_cod = 1;
            h->cod_offset = position;
            if (fragment_read(f, body, 10, &p) >= 10) {
                h->has_coding = 1;
                h->progression = p[1];
                h->mct = p[4];
                h->levels = p[5];
                h->reversible = p[9] == 1;
            }
        } else if (marker == 0x5C) { /* QCD */
            h->has_qcd = 1;
            h->qcd_offset = position;
            if (fragment_read(f, body, 1, &p) == 1) {
                h->has_quantization = 1;
                h->quantization = p[0] & 0x1F;
            }
        } else if (marker == 0x50) {
            h->has_cap = 1;
        } else if (marker == 0x55) {
            h->has_tlm = 1;
        }
        if (!go_on)
            break;
        position += 2 + (uint64_t)length;
    }
    h->reached = f->reached;
}

/* facts._header_key of a JPEG 2000 main header. */
static void j2k_fields_key(const J2kFields *h, Key *k) {
    put_u8(k, (uint8_t)h->found);
    if (!h->found)
        return;
    put_u8(k, (uint8_t)h->has_siz);
    put_opt(k, h->has_geometry, h->rows);
    put_opt(k, h->has_geometry, h->columns);
    put_opt(k, h->has_geometry, h->components);
    put_opt(k, h->has_geometry, h->precision);
    put_opt(k, h->has_geometry, h->is_signed);
    put_u8(k, (uint8_t)h->has_cod);
    put_opt(k, h->has_coding, h->progression);
    put_opt(k, h->has_coding, h->mct);
    put_opt(k, h->has_coding, h->levels);
    put_opt(k, h->has_coding, h->reversible);
    put_u8(k, (uint8_t)h->has_qcd);
    put_opt(k, h->has_quantization, h->quantization);
    put_u8(k, (uint8_t)h->has_cap);
    put_u8(k, (uint8_t)h->has_tlm);
    put_u8(k, (uint8_t)h->complete);
}

enum { VERDICT_OK = 1, VERDICT_WRONG_MARKER, VERDICT_JP2, VERDICT_FOREIGN };

static int starts_with(const uint8_t *p, int64_t n, const char *prefix, int64_t m) {
    return n >= m && memcmp(p, prefix, (size_t)m) == 0;
}

/* facts.other_codec(head), as a number: 0 None, then OTHER_CODECS' order (core.py). */
static int other_codec(const uint8_t *p, int64_t n) {
    int64_t fill = 0;
    while (fill < n && p[fill] == 0xFF)
        fill++;
    if (fill > 0 && fill < n && p[fill] == 0xD8)
        return 1;
    if (starts_with(p, n, "\xff\x4f", 2))
        return 2;
    if (starts_with(p, n, "\x00\x00\x00\x0cjP", 6))
        return 3;
    if (starts_with(p, n, "\xff\x0a", 2) || starts_with(p, n, "\x00\x00\x00\x0cJXL ", 8))
        return 4;
    return 0;
}

/* facts.judge for the marker-coded codecs: the verdict, and the fill before SOI. */
static int judge(int family, const uint8_t *p, int64_t n, int64_t *fill_before) {
    if (family == FAMILY_JPEG) {
        int64_t fill = 0;
        int marker;
        while (fill < n && p[fill] == 0xFF)
            fill++;
        if (fill > 0 && fill < n && p[fill] == 0xD8) {
            *fill_before = fill - 1;
            return VERDICT_OK;
        }
        marker = fill > 0 && !(fill < n && p[fill] == 0x00); /* FF 00 is data */
        return marker && !other_codec(p, n) ? VERDICT_WRONG_MARKER : VERDICT_FOREIGN;
    }
    if (starts_with(p, n, "\xff\x4f\xff\x51", 4))
        return VERDICT_OK;
    if (starts_with(p, n, "\x00\x00\x00\x0cjP", 6))
        return VERDICT_JP2;
    if (starts_with(p, n, "\xff\x4f", 2) || (n >= 2 && p[0] == 0xFF && p[1] != 0x00 &&
                                             !other_codec(p, n)))
        return VERDICT_WRONG_MARKER;
    return VERDICT_FOREIGN;
}

/* A frame's first fragment as the parse sees it (`f`), its first bytes read in one go:
 * how many there are (valid while the parse reads aside: until the next source_read). */
static int64_t open_fragment(Source *s, uint64_t value, uint64_t available, Fragment *f) {
    const uint8_t *first = NULL;
    int64_t got = 0;
    if (available > 0) {
        got = source_read(s, value, available < HEADER_READ ? available : HEADER_READ, &first);
        if (got < 0)
            got = 0;
    }
    f->source = s;
    f->first = first;
    f->first_length = (uint64_t)got;
    f->start = value;
    f->end = value + available;
    f->reached = 0;
    return got;
}

/* facts.frame_facts' judgement of a start: the verdict, the fill before SOI, and how
 * many leading bytes it looked at (`*head`: HEAD_BYTES, FILL_HEAD after FF FF). */
static int judge_start(int family, const uint8_t *first, int64_t got, int64_t *head,
                       int64_t *fill) {
    *head = got < HEAD_BYTES ? got : HEAD_BYTES;
    if (*head >= 2 && first[0] == 0xFF && first[1] == 0xFF) /* fill: look for the SOI */
        *head = got < FILL_HEAD ? got : FILL_HEAD;
    return judge(family, first, *head, fill);
}

/* facts._end: the last FF D9 in a fragment's last TAIL_BYTES bytes. The bytes read
 * (`*data`, `*n`, from `*tail_offset`) and the marker's index in them, -1 if none. */
static int64_t find_end(Source *s, uint64_t value, uint64_t available, uint64_t *tail_offset,
                        const uint8_t **data, int64_t *n) {
    uint64_t end = value + available;
    int64_t i;
    *tail_offset = available > TAIL_BYTES ? end - TAIL_BYTES : value;
    *n = source_read(s, *tail_offset, end - *tail_offset, data);
    if (*n < 0)
        *n = 0;
    for (i = *n - 2; i >= 0; i--)
        if ((*data)[i] == 0xFF && (*data)[i + 1] == 0xD9)
            break;
    return i;
}

/* The part of facts.facts_key a frame's first fragment decides: its header and how it
 * starts. Returns whether a frame that starts so has an end to judge (its start is
 * OK or a wrong marker). */
static int head_key(Source *s, int family, uint64_t value, uint64_t available, Key *k) {
    int64_t got, head, fill = 0;
    int verdict;
    Fragment f;
    got = open_fragment(s, value, available, &f);
    if (family == FAMILY_JPEG) {
        JpegFields h;
        parse_jpeg(&f, &h);
        jpeg_fields_key(&h, k);
    } else {
        J2kFields h;
        parse_j2k(&f, &h);
        j2k_fields_key(&h, k);
    }
    if (available < 2) {
        put_u8(k, 0); /* no start, so no end */
        return 0;
    }
    verdict = judge_start(family, f.first, got, &head, &fill);
    put_u8(k, (uint8_t)verdict);
    if (verdict == VERDICT_OK) {
        put_i64(k, fill);
    } else {
        put_i64(k, head);
        put(k, f.first, (size_t)head);
    }
    return verdict == VERDICT_OK || verdict == VERDICT_WRONG_MARKER;
}

/* The part a frame's last fragment decides, when the frame has an end to judge: its
 * last end marker and what follows it (facts._end). */
static void tail_key(Source *s, uint64_t value, uint64_t length, uint64_t available, Key *k) {
    const uint8_t *data;
    uint64_t tail_offset;
    int64_t n, i;
    if ((length != UNDEFINED_LENGTH && available < length) || available < 2) {
        put_u8(k, 0); /* cut short, or too short to end in anything */
        return;
    }
    i = find_end(s, value, available, &tail_offset, &data, &n);
    if (i >= 0) {
        put_u8(k, 1);
        put_i64(k, n - i);
        put(k, data + i, (size_t)(n - i));
    } else {
        put_u8(k, 2);
        put_i64(k, n < 2 ? n : 2);
        put(k, data + (n < 2 ? 0 : n - 2), (size_t)(n < 2 ? n : 2));
    }
}

/* facts.facts_key of one frame, as bytes. */
static void frame_key(Source *s, int family, uint64_t first_offset, uint64_t first_available,
                      uint64_t last_offset, uint64_t last_length, uint64_t last_available,
                      uint64_t fragments, Key *k) {
    k->length = 0;
    put_i64(k, (int64_t)fragments);
    if (head_key(s, family, first_offset + ITEM_HEADER, first_available, k))
        tail_key(s, last_offset + ITEM_HEADER, last_length, last_available, k);
    else
        put_u8(k, 0);
}

/* ---- one frame's facts ----------------------------------------------------------------- */

static PyObject *optional(int present, long long value) {
    if (!present)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(value);
}

static PyObject *flag(int value) { return PyBool_FromLong(value); }

/* The fields of codestream.JpegHeader / J2kHeader, in their order; None: no header. */
static PyObject *jpeg_header_tuple(const JpegFields *h) {
    if (!h->found)
        Py_RETURN_NONE;
    return Py_BuildValue("(LNNNNNNNNNNNNK)", (long long)h->fill_bytes, optional(h->has_sof, h->sof),
                         optional(h->has_sof, (long long)h->sof_offset),
                         optional(h->has_geometry, h->precision),
                         optional(h->has_geometry, h->rows), optional(h->has_geometry, h->columns),
                         optional(h->has_geometry, h->components), flag(h->has_dqt),
                         flag(h->has_dht), optional(h->has_near, h->near),
                         optional(h->has_predictor, h->predictor),
                         optional(h->complete, (long long)h->sos_offset), flag(h->complete),
                         (unsigned long long)h->reached);
}

static PyObject *j2k_header_tuple(const J2kFields *h) {
    if (!h->found)
        Py_RETURN_NONE;
    return Py_BuildValue(
        "(NNNNNNNNNNNNNNNNK)", optional(h->has_siz, (long long)h->siz_offset),
        optional(h->has_geometry, h->rows), optional(h->has_geometry, h->columns),
        optional(h->has_geometry, h->components), optional(h->has_geometry, h->precision),
        h->has_geometry ? flag(h->is_signed) : Py_NewRef(Py_None),
        optional(h->has_cod, (long long)h->cod_offset), optional(h->has_coding, h->progression),
        optional(h->has_coding, h->mct), optional(h->has_coding, h->levels),
        h->has_coding ? flag(h->reversible) : Py_NewRef(Py_None),
        optional(h->has_qcd, (long long)h->qcd_offset),
        optional(h->has_quantization, h->quantization), flag(h->has_cap), flag(h->has_tlm),
        flag(h->complete), (unsigned long long)h->reached);
}

/* facts.frame_facts for a marker-coded codec: (start, end, header) as tuples of the
 * fields of facts.Start, facts.End and the header (core.py makes them those types). */
static PyObject *core_frame_facts(PyObject *self, PyObject *args) {
    int fd, family;
    unsigned long long size, value, available, last_value, last_length, last_available;
    Py_buffer buffer = {0};
    PyObject *memory, *header = NULL, *start = NULL, *end = NULL, *result = NULL;
    const uint8_t *data;
    int64_t got, head, fill = 0, kept;
    int verdict;
    Source s;
    Fragment f;
    (void)self;
    if (!PyArg_ParseTuple(args, "iKOiKKKKK", &fd, &size, &memory, &family, &value, &available,
                          &last_value, &last_length, &last_available))
        return NULL;
    if (!known_family(family, 0))
        return NULL;
    if (source_from(&s, fd, size, memory, &buffer) != 0)
        return NULL;
    got = open_fragment(&s, value, available, &f);
    if (family == FAMILY_JPEG) {
        JpegFields h;
        parse_jpeg(&f, &h);
        header = jpeg_header_tuple(&h);
    } else {
        J2kFields h;
        parse_j2k(&f, &h);
        header = j2k_header_tuple(&h);
    }
    if (header == NULL)
        goto done;
    if (available < 2) {
        start = Py_NewRef(Py_None);
        end = Py_NewRef(Py_None);
    } else {
        /* the head as facts.Start keeps it: the signature only, when OK */
        verdict = judge_start(family, f.first, got, &head, &fill);
        kept = verdict != VERDICT_OK ? head : family == FAMILY_JPEG ? fill + 2 : 4;
        start = Py_BuildValue("(Ky#iLi)", value, (const char *)f.first, (Py_ssize_t)kept, verdict,
                              (long long)(verdict == VERDICT_OK ? fill : 0),
                              verdict == VERDICT_FOREIGN ? other_codec(f.first, head) : 0);
        if (start == NULL)
            goto done;
        if ((verdict == VERDICT_OK || verdict == VERDICT_WRONG_MARKER) &&
            !(last_length != UNDEFINED_LENGTH && last_available < last_length) &&
            last_available >= 2) {
            uint64_t tail_offset, stop = last_value + last_available;
            int64_t n, i = find_end(&s, last_value, last_available, &tail_offset, &data, &n);
            if (i >= 0)
                end = Py_BuildValue("(Ky#KK)", tail_offset + (uint64_t)i, (const char *)data + i,
                                    (Py_ssize_t)(n - i), stop, tail_offset + (uint64_t)i);
            else
                end = Py_BuildValue("(Ky#KO)", stop - 2, (const char *)data + (n < 2 ? 0 : n - 2),
                                    (Py_ssize_t)(n < 2 ? n : 2), stop, Py_None);
            if (end == NULL)
                goto done;
        } else {
            end = Py_NewRef(Py_None);
        }
    }
    if (source_close(&s) != 0)
        goto done;
    result = PyTuple_Pack(3, start, end, header);
done:
    source_release(&s);
    Py_XDECREF(header);
    Py_XDECREF(start);
    Py_XDECREF(end);
    if (memory != Py_None)
        PyBuffer_Release(&buffer);
    return result;
}

/* ---- grouping ----------------------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    size_t key_at; /* in the arena */
    size_t key_length;
    Py_ssize_t group; /* -1: empty slot */
} Slot;

typedef struct {
    Slot *slots;
    size_t capacity; /* a power of two */
    size_t used;
    uint8_t *arena;
    size_t arena_length, arena_capacity;
} Table;

static uint64_t hash_key(const Key *k) { /* multiply-xorshift, 8 bytes at a time */
    uint64_t h = 0x9E3779B97F4A7C15ull ^ k->length, word;
    size_t i = 0;
    for (; i + 8 <= k->length; i += 8) {
        memcpy(&word, k->bytes + i, 8);
        h = (h ^ word) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    for (; i < k->length; i++)
        h = (h ^ k->bytes[i]) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

static int table_grow(Table *t) {
    size_t capacity = t->capacity ? t->capacity * 2 : 64, i;
    Slot *slots = PyMem_RawCalloc(capacity, sizeof(Slot));
    if (slots == NULL)
        return -1;
    for (i = 0; i < capacity; i++)
        slots[i].group = -1;
    for (i = 0; i < t->capacity; i++) {
        if (t->slots[i].group >= 0) {
            size_t j = (size_t)t->slots[i].hash & (capacity - 1);
            while (slots[j].group >= 0)
                j = (j + 1) & (capacity - 1);
            slots[j] = t->slots[i];
        }
    }
    PyMem_RawFree(t->slots);
    t->slots = slots;
    t->capacity = capacity;
    return 0;
}

/* The group of `k`; a new one (number `groups`) when it is not there. -1: no memory. */
static Py_ssize_t table_find(Table *t, const Key *k, Py_ssize_t groups) {
    uint64_t h = hash_key(k);
    size_t j;
    if ((t->used + 1) * 2 > t->capacity && table_grow(t) != 0)
        return -1;
    for (j = (size_t)h & (t->capacity - 1);; j = (j + 1) & (t->capacity - 1)) {
        Slot *slot = &t->slots[j];
        if (slot->group < 0)
            break;
        if (slot->hash == h && slot->key_length == k->length &&
            memcmp(t->arena + slot->key_at, k->bytes, k->length) == 0)
            return slot->group;
    }
    if (t->arena_length + k->length > t->arena_capacity) {
        size_t capacity = (t->arena_capacity + k->length) * 2;
        uint8_t *arena = PyMem_RawRealloc(t->arena, capacity);
        if (arena == NULL)
            return -1;
        t->arena = arena;
        t->arena_capacity = capacity;
    }
    memcpy(t->arena + t->arena_length, k->bytes, k->length);
    t->slots[j].hash = h;
    t->slots[j].key_at = t->arena_length;
    t->slots[j].key_length = k->length;
    t->slots[j].group = groups;
    t->arena_length += k->length;
    t->used++;
    return groups;
}

static void table_free(Table *t) {
    PyMem_RawFree(t->slots);
    PyMem_RawFree(t->arena);
}

/* A growing array's storage with room for one more element of `size` bytes (the same
 * storage, or moved); NULL when there is no memory (the old storage stays). */
static void *with_room(void *values, size_t length, size_t *capacity, size_t size) {
    size_t more;
    if (length < *capacity)
        return values;
    more = *capacity ? *capacity * 2 : 1024;
    values = PyMem_RawRealloc(values, more * size);
    if (values != NULL)
        *capacity = more;
    return values;
}

/* A growing array of 32-bit ids. */
typedef struct {
    uint32_t *ids;
    size_t length, capacity;
} Ids;

static int ids_add(Ids *a, uint32_t id) {
    uint32_t *ids = with_room(a->ids, a->length, &a->capacity, sizeof *ids);
    if (ids == NULL)
        return -1;
    a->ids = ids;
    a->ids[a->length++] = id;
    return 0;
}

static PyObject *ids_bytes(const Ids *a) {
    return PyBytes_FromStringAndSize((const char *)a->ids, (Py_ssize_t)(a->length * sizeof(uint32_t)));
}

/* Frames grouped by their keys, in order of first appearance: each frame's group id,
 * and per group its size and first and last frame numbers. */
typedef struct {
    Table table;
    Ids group_of;            /* per frame, in order */
    Ids count, first, last;  /* per group */
} Grouping;

/* Frame `number` (the frames come in order, from 1) into the group of its key, a new
 * group when the key is new; -1 with an exception set on failure. */
static int grouping_add(Grouping *g, const Key *key, uint32_t number) {
    Py_ssize_t group = table_find(&g->table, key, (Py_ssize_t)g->count.length);
    if (group < 0 || ids_add(&g->group_of, (uint32_t)group) != 0) {
        PyErr_NoMemory();
        return -1;
    }
    if ((size_t)group == g->count.length) {
        if (ids_add(&g->count, 0) != 0 || ids_add(&g->first, number) != 0 ||
            ids_add(&g->last, number) != 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    g->count.ids[group]++;
    g->last.ids[group] = number;
    return 0;
}

/* Frame `number` into the group of the frame before it, whose key is the same: no
 * hashing (the frames of a whole-slide image mostly come in long runs of one key). */
static int grouping_again(Grouping *g, uint32_t number) {
    uint32_t group = g->group_of.ids[g->group_of.length - 1];
    if (ids_add(&g->group_of, group) != 0) {
        PyErr_NoMemory();
        return -1;
    }
    g->count.ids[group]++;
    g->last.ids[group] = number;
    return 0;
}

/* The groups' frame numbers: a range for a group of consecutive frames (the usual
 * whole-slide image is one such group of 200,000), else a memoryview of uint32 numbers. */
static PyObject *grouping_result(const Grouping *g) {
    size_t group, frame;
    PyObject *groups = PyList_New((Py_ssize_t)g->count.length);
    PyObject **numbers = PyMem_Calloc(g->count.length + 1, sizeof(PyObject *));
    Py_ssize_t *filled = PyMem_Calloc(g->count.length + 1, sizeof(Py_ssize_t));
    if (groups == NULL || numbers == NULL || filled == NULL)
        goto failed;
    _Static_assert(sizeof(unsigned int) == 4, "memoryview format I is 4 bytes");
    /* a list's members: frame numbers as uint32 in bytes, shown as a memoryview of them
     * (a sequence of ints, none made until read: a group may hold 200,000 frames) */
    for (group = 0; group < g->count.length; group++) {
        uint32_t count = g->count.ids[group], first = g->first.ids[group];
        if (count != g->last.ids[group] - first + 1 &&
            (numbers[group] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)count * 4)) == NULL)
            goto failed;
    }
    for (frame = 0; frame < g->group_of.length; frame++) {
        uint32_t id = g->group_of.ids[frame], number = (uint32_t)(frame + 1);
        if (numbers[id] != NULL)
            memcpy(PyBytes_AS_STRING(numbers[id]) + 4 * filled[id]++, &number, 4);
    }
    for (group = 0; group < g->count.length; group++) {
        uint32_t count = g->count.ids[group], first = g->first.ids[group];
        PyObject *members;
        if (numbers[group] == NULL) {
            members = PyObject_CallFunction((PyObject *)&PyRange_Type, "kk",
                                            (unsigned long)first, (unsigned long)first + count);
        } else {
            PyObject *view = PyMemoryView_FromObject(numbers[group]);
            members = view != NULL ? PyObject_CallMethod(view, "cast", "s", "I") : NULL;
            Py_XDECREF(view);
        }
        if (members == NULL)
            goto failed;
        PyList_SET_ITEM(groups, (Py_ssize_t)group, members);
    }
    for (group = 0; group < g->count.length; group++)
        Py_XDECREF(numbers[group]);
    PyMem_Free(numbers);
    PyMem_Free(filled);
    return groups;
failed:
    for (group = 0; numbers != NULL && group < g->count.length; group++)
        Py_XDECREF(numbers[group]);
    PyMem_Free(numbers);
    PyMem_Free(filled);
    Py_XDECREF(groups); /* items not yet set are NULL, which a list's deallocation skips */
    if (!PyErr_Occurred())
        PyErr_NoMemory();
    return NULL;
}

static void grouping_free(Grouping *g) {
    table_free(&g->table);
    PyMem_RawFree(g->group_of.ids);
    PyMem_RawFree(g->count.ids);
    PyMem_RawFree(g->first.ids);
    PyMem_RawFree(g->last.ids);
}

/* A column of unsigned numbers: a sequence of ints (a list, a tuple), or a buffer of
 * native unsigned 32- or 64-bit numbers read in place (array('I'), array('Q'): the
 * walk's columns, parse_u64_list's tables). */
typedef struct {
    PyObject *fast; /* the sequence (PySequence_Fast); NULL when `view` holds the numbers */
    Py_buffer view;
    Py_ssize_t length;
} Column;

static int column_open(PyObject *object, Column *c) {
    const char *format;
    memset(c, 0, sizeof *c);
    if (!PyObject_CheckBuffer(object)) {
        c->fast = PySequence_Fast(object, "a sequence of ints");
        if (c->fast == NULL)
            return -1;
        c->length = PySequence_Fast_GET_SIZE(c->fast);
        return 0;
    }
    if (PyObject_GetBuffer(object, &c->view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) != 0)
        return -1;
    format = c->view.format != NULL ? c->view.format : "B";
    if (format[0] == '@' || format[0] == '=')
        format++;
    if (strlen(format) != 1 || strchr("ILQ", format[0]) == NULL ||
        (c->view.itemsize != 4 && c->view.itemsize != 8)) {
        PyBuffer_Release(&c->view);
        PyErr_SetString(PyExc_TypeError,
                        "a sequence of ints, or an array of unsigned 32- or 64-bit numbers");
        return -1;
    }
    c->length = c->view.len / c->view.itemsize;
    return 0;
}

/* Entry `index` as an unsigned 64-bit value; -1 with an exception set when out of range
 * or (in a sequence) not such an int. */
static int column_at(const Column *c, Py_ssize_t index, uint64_t *value) {
    if (index < 0 || index >= c->length) {
        PyErr_SetString(PyExc_IndexError, "fragment number out of range");
        return -1;
    }
    if (c->fast != NULL) {
        *value = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(c->fast, index));
        return *value == (uint64_t)-1 && PyErr_Occurred() ? -1 : 0;
    }
    if (c->view.itemsize == 4) {
        uint32_t narrow;
        memcpy(&narrow, (const char *)c->view.buf + index * 4, 4);
        *value = narrow;
    } else {
        memcpy(value, (const char *)c->view.buf + index * 8, 8);
    }
    return 0;
}

/* Safe on a zeroed Column, and on one whose column_open failed. */
static void column_close(Column *c) {
    if (c->fast != NULL)
        Py_CLEAR(c->fast);
    else if (c->view.obj != NULL)
        PyBuffer_Release(&c->view);
}

/* The frames' first and last fragment numbers: two sequences, or None and None (frame n
 * is fragment n): `*numbered` says which. */
static int open_numbers(PyObject *firsts_object, PyObject *lasts_object, Column *firsts,
                        Column *lasts, int *numbered) {
    *numbered = firsts_object != Py_None;
    if (*numbered != (lasts_object != Py_None)) {
        PyErr_SetString(PyExc_TypeError, "firsts and lasts: two sequences, or both None");
        return -1;
    }
    if (*numbered &&
        (column_open(firsts_object, firsts) != 0 || column_open(lasts_object, lasts) != 0))
        return -1;
    return 0;
}

static PyObject *core_frame_groups(PyObject *self, PyObject *args) {
    int fd, family;
    unsigned long long size;
    Py_buffer buffer = {0};
    PyObject *memory, *offsets_object, *lengths_object, *availables_object, *firsts_object,
        *lasts_object;
    PyObject *result = NULL;
    Column offsets = {0}, lengths = {0}, availables = {0}, firsts = {0}, lasts = {0};
    int numbered = 0;
    Source s;
    Grouping grouping;
    Key *key = NULL;
    Py_ssize_t frames, i;
    (void)self;
    memset(&grouping, 0, sizeof grouping);
    memset(&s, 0, sizeof s);
    if (!PyArg_ParseTuple(args, "iKOiOOOOO", &fd, &size, &memory, &family, &offsets_object,
                          &lengths_object, &availables_object, &firsts_object, &lasts_object))
        return NULL;
    if (!known_family(family, 0))
        return NULL;
    if (column_open(offsets_object, &offsets) != 0 || column_open(lengths_object, &lengths) != 0 ||
        column_open(availables_object, &availables) != 0 ||
        open_numbers(firsts_object, lasts_object, &firsts, &lasts, &numbered) != 0)
        goto done;
    frames = numbered ? firsts.length : offsets.length;
    if (numbered && lasts.length != frames) {
        PyErr_SetString(PyExc_ValueError, "firsts and lasts differ in length");
        goto done;
    }
    if (source_from(&s, fd, size, memory, &buffer) != 0)
        goto done;
    /* frames are visited in file order: read by blocks where they lie close together */
    s.dense = frames > 0 && offsets.length > 0;
    if (s.dense) {
        uint64_t low, high;
        if (column_at(&offsets, 0, &low) != 0 ||
            column_at(&offsets, offsets.length - 1, &high) != 0)
            goto done;
        s.dense = high >= low && (high - low) < DENSE_SPACING * (uint64_t)frames;
    }
    key = PyMem_Malloc(sizeof(Key));
    if (key == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < frames; i++) {
        uint64_t first = (uint64_t)i, last = (uint64_t)i, first_offset, first_available;
        uint64_t last_offset, last_length, last_available;
        if (numbered) {
            if (column_at(&firsts, i, &first) != 0 || column_at(&lasts, i, &last) != 0)
                goto done;
            if (first < 1 || last < first) {
                PyErr_SetString(PyExc_ValueError, "fragment numbers start at 1, first <= last");
                goto done;
            }
            first -= 1;
            last -= 1;
        }
        if (column_at(&offsets, (Py_ssize_t)first, &first_offset) != 0 ||
            column_at(&availables, (Py_ssize_t)first, &first_available) != 0 ||
            column_at(&offsets, (Py_ssize_t)last, &last_offset) != 0 ||
            column_at(&lengths, (Py_ssize_t)last, &last_length) != 0 ||
            column_at(&availables, (Py_ssize_t)last, &last_available) != 0)
            goto done;
        frame_key(&s, family, first_offset, first_available, last_offset, last_length,
                  last_available, last - first, key);
        if (grouping_add(&grouping, key, (uint32_t)(i + 1)) != 0)
            goto done;
    }
    if (source_close(&s) != 0)
        goto done;
    result = grouping_result(&grouping);
done:
    source_release(&s);
    grouping_free(&grouping);
    PyMem_Free(key);
    column_close(&lasts);
    column_close(&firsts);
    column_close(&availables);
    column_close(&lengths);
    column_close(&offsets);
    if (memory != Py_None && buffer.obj != NULL)
        PyBuffer_Release(&buffer);
    return result;
}

/* ---- items ------------------------------------------------------------------------- */

/* A long run of dense items is walked by two threads. The walk is a chain (each item's
 * length says where the next one starts), so where the second half starts is known
 * only once the first half is walked; but it can be guessed. A second walker looks for
 * an item header near the middle (SPLIT_CHAIN items in a row that chain up) and walks
 * on from there while this one walks up to it. If this walk lands exactly on the guess,
 * every item from there on is the one the second walker found (a walk from a position
 * depends only on the bytes from there): its items and facts are appended. If this walk
 * passes over the guess (a look-alike of item headers inside a fragment) or stops before
 * it, the second walker's work is dropped and this one walks on alone. Either way the
 * result is the one-thread walk's, byte for byte. */
#define SPLIT_MIN ((uint64_t)16 << 20)     /* bytes left to walk for a second walker */
#define SPLIT_SEARCH ((uint64_t)4 << 20)   /* how far past the middle a header is looked for */
#define SPLIT_BLOCK ((uint64_t)64 << 10)   /* ... read this much at a time */
#define SPLIT_CHAIN 4

/* A growing array of 64-bit offsets. */
typedef struct {
    uint64_t *values;
    size_t length, capacity;
} U64s;

static int u64s_add(U64s *a, uint64_t value) {
    uint64_t *values = with_room(a->values, a->length, &a->capacity, sizeof *values);
    if (values == NULL)
        return -1;
    a->values = values;
    a->values[a->length++] = value;
    return 0;
}

/* Each item's head and tail facts, interned (see the top of this file). */
typedef struct {
    Table head_table, tail_table;
    Ids heads, tails;
    Ids ends; /* per head id: 1 when a frame that starts so has an end to judge */
} ItemFacts;

/* One walker's stretch of items. Nothing in it is a Python object: the second walker
 * runs without the GIL. */
typedef struct Stretch {
    Source s;
    int family;
    uint64_t start, end;
    uint64_t meet;        /* stop on reaching this position (the partner's start) */
    int may_split;        /* this walker may start a partner */
    U64s offsets;
    Ids lengths;
    ItemFacts facts;
    Key key;
    uint64_t position;    /* where the walk stopped */
    int met;              /* ... at `meet` */
    int no_memory;
    int cancel;           /* (atomic) the partner's work is not wanted */
    int *cancelled;       /* the partner's view of its walker's `cancel` */
    struct Stretch *partner;
#if HAVE_THREADS
    pthread_t thread;
#endif
} Stretch;

static int item_facts_add(ItemFacts *facts, Source *s, int family, uint64_t value,
                          uint32_t length, Key *k) {
    Py_ssize_t heads = (Py_ssize_t)facts->ends.length, id;
    int has_end;
    k->length = 0;
    has_end = head_key(s, family, value, length, k);
    id = table_find(&facts->head_table, k, heads);
    if (id < 0 || ids_add(&facts->heads, (uint32_t)id) != 0)
        return -1;
    if (id == heads && ids_add(&facts->ends, (uint32_t)has_end) != 0)
        return -1;
    k->length = 0;
    tail_key(s, value, length, length, k); /* a whole item: available == length */
    id = table_find(&facts->tail_table, k, (Py_ssize_t)facts->tail_table.used);
    if (id < 0 || ids_add(&facts->tails, (uint32_t)id) != 0)
        return -1;
    return 0;
}

static void item_facts_free(ItemFacts *facts) {
    table_free(&facts->head_table);
    table_free(&facts->tail_table);
    PyMem_RawFree(facts->heads.ids);
    PyMem_RawFree(facts->tails.ids);
    PyMem_RawFree(facts->ends.ids);
}

/* Add `from`'s items' facts after `into`'s: its keys interned again in `into`'s tables.
 * -1: no memory. */
static int item_facts_append(ItemFacts *into, const ItemFacts *from, Key *k) {
    uint32_t *head_ids = PyMem_RawMalloc((from->ends.length + 1) * sizeof(uint32_t));
    uint32_t *tail_ids = PyMem_RawMalloc((from->tail_table.used + 1) * sizeof(uint32_t));
    int failed = head_ids == NULL || tail_ids == NULL;
    size_t i;
    for (i = 0; !failed && i < from->head_table.capacity; i++) {
        const Slot *slot = &from->head_table.slots[i];
        Py_ssize_t id, heads = (Py_ssize_t)into->ends.length;
        if (slot->group < 0)
            continue;
        memcpy(k->bytes, from->head_table.arena + slot->key_at, slot->key_length);
        k->length = slot->key_length;
        id = table_find(&into->head_table, k, heads);
        failed = id < 0 || (id == heads && ids_add(&into->ends, from->ends.ids[slot->group]) != 0);
        if (!failed)
            head_ids[slot->group] = (uint32_t)id;
    }
    for (i = 0; !failed && i < from->tail_table.capacity; i++) {
        const Slot *slot = &from->tail_table.slots[i];
        Py_ssize_t id;
        if (slot->group < 0)
            continue;
        memcpy(k->bytes, from->tail_table.arena + slot->key_at, slot->key_length);
        k->length = slot->key_length;
        id = table_find(&into->tail_table, k, (Py_ssize_t)into->tail_table.used);
        failed = id < 0;
        if (!failed)
            tail_ids[slot->group] = (uint32_t)id;
    }
    for (i = 0; !failed && i < from->heads.length; i++)
        failed = ids_add(&into->heads, head_ids[from->heads.ids[i]]) != 0 ||
                 ids_add(&into->tails, tail_ids[from->tails.ids[i]]) != 0;
    PyMem_RawFree(head_ids);
    PyMem_RawFree(tail_ids);
    return failed ? -1 : 0;
}

/* Up to `count` bytes at `offset`, for the look for a second walker's start (not a read
 * of the walk: an error only means no second walker). */
static int64_t peek(Source *s, uint64_t offset, uint64_t count, uint8_t *into) {
    int error = s->error;
    int64_t got;
    if (offset >= s->size)
        return 0;
    if (count > s->size - offset)
        count = s->size - offset;
    if (s->fd < 0) {
        memcpy(into, s->memory + offset, (size_t)count);
        return (int64_t)count;
    }
    got = source_pread(s, offset, count, into);
    s->error = error; /* not the walk's read: its error is not the walk's */
    return got;
}

/* An item header at `p` begins SPLIT_CHAIN items in a row, each ending where the next
 * begins (or at `end`). */
static int chains(Source *s, uint64_t p, uint64_t end) {
    uint8_t header[ITEM_HEADER];
    int i;
    for (i = 0; i < SPLIT_CHAIN && p != end; i++) {
        uint32_t length;
        if (end - p < ITEM_HEADER || peek(s, p, ITEM_HEADER, header) != ITEM_HEADER)
            return 0;
        length = le32(header + 4);
        if (le32(header) != 0xE000FFFEu || length > end - p - ITEM_HEADER)
            return 0;
        p += ITEM_HEADER + length;
    }
    return 1;
}

/* The first item header at or after `from` (looked for up to SPLIT_SEARCH bytes on) that
 * chains; 0 when there is none. */
static int find_item_near(Source *s, uint64_t from, uint64_t end, uint64_t *found) {
    static const uint8_t tag[4] = {0xFE, 0xFF, 0x00, 0xE0};
    uint8_t *block = PyMem_RawMalloc((size_t)SPLIT_BLOCK);
    uint64_t at = from;
    int ok = 0;
    while (block != NULL && !ok && at < from + SPLIT_SEARCH && at < end &&
           end - at >= ITEM_HEADER) {
        uint64_t count = end - at < SPLIT_BLOCK ? end - at : SPLIT_BLOCK; /* not past `end` */
        int64_t got = peek(s, at, count, block), i;
        if (got < (int64_t)sizeof tag)
            break;
        for (i = 0; !ok && i + (int64_t)sizeof tag <= got; i++)
            if (block[i] == 0xFE && memcmp(block + i, tag, sizeof tag) == 0 &&
                at + (uint64_t)i <= end - ITEM_HEADER && chains(s, at + (uint64_t)i, end)) {
                *found = at + (uint64_t)i;
                ok = 1;
            }
        at += (uint64_t)got - (sizeof tag - 1); /* a tag across the blocks' edge is seen */
    }
    PyMem_RawFree(block);
    return ok;
}

static void walk_stretch(Stretch *w);

#if HAVE_THREADS
static void *partner_walk(void *argument) {
    Stretch *w = (Stretch *)argument;
    walk_stretch(w);
    return NULL;
}

/* The processors this process may run on (its affinity, where the system says: a
 * process pinned to one core walks with one walker). */
static int processors(void) {
    long n;
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        return CPU_COUNT(&allowed);
#endif
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
#endif

/* A second walker from an item header near the middle of what is left after `position`,
 * where that is worth it (see SPLIT_MIN) and one is found. Without it, this walker walks
 * on alone. */
static void start_partner(Stretch *w, uint64_t position) {
#if HAVE_THREADS
    uint64_t guess;
    sigset_t all, before;
    Stretch *partner;
    int started;
    if (w->end - position < SPLIT_MIN || processors() < 2 ||
        !find_item_near(&w->s, position + (w->end - position) / 2, w->end, &guess))
        return;
    partner = PyMem_RawCalloc(1, sizeof *partner);
    if (partner == NULL)
        return;
    partner->s.fd = w->s.fd;
    partner->s.memory = w->s.memory;
    partner->s.size = w->s.size;
    partner->s.dense = 1;
    partner->family = w->family;
    partner->start = guess;
    partner->end = w->end;
    partner->meet = UINT64_MAX;
    partner->cancelled = &w->cancel;
    sigfillset(&all); /* the walker takes no signal: Python's handlers run in the main thread */
    pthread_sigmask(SIG_SETMASK, &all, &before);
    started = pthread_create(&partner->thread, NULL, partner_walk, partner) == 0;
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    if (!started) {
        PyMem_RawFree(partner);
        return;
    }
    w->partner = partner;
    w->meet = guess;
#else
    (void)w;
    (void)position;
#endif
}

/* Walk the items from w->start on: up to something that is not an item, to `meet`, or
 * until cancelled. */
static void walk_stretch(Stretch *w) {
    Source *s = &w->s;
    uint64_t position = w->start, end = w->end, count = 0;
    while (end >= ITEM_HEADER && position <= end - ITEM_HEADER) {
        const uint8_t *header;
        uint32_t length;
        int64_t got;
        if (position >= w->meet) {
            if (position == w->meet) {
                w->met = 1;
                break;
            }
            __atomic_store_n(&w->cancel, 1, __ATOMIC_RELAXED); /* passed over the guess */
            w->meet = UINT64_MAX;
        }
        if (w->cancelled != NULL && __atomic_load_n(w->cancelled, __ATOMIC_RELAXED))
            break;
        got = source_read(s, position, ITEM_HEADER, &header);
        if (got < ITEM_HEADER)
            break; /* cut short, or a read error (reported by the caller) */
        length = le32(header + 4);
        if (le32(header) != 0xE000FFFEu || length > end - position - ITEM_HEADER)
            break;
        if (u64s_add(&w->offsets, position) != 0 || ids_add(&w->lengths, length) != 0 ||
            (w->family &&
             item_facts_add(&w->facts, s, w->family, position + ITEM_HEADER, length, &w->key) != 0)) {
            w->no_memory = 1;
            break;
        }
        position += ITEM_HEADER + (uint64_t)length;
        /* after a probe of items read one by one, items close together are read
         * by blocks: a slice of memory each instead of a system call */
        if (++count == DENSE_PROBE && position - w->start < DENSE_SPACING * DENSE_PROBE) {
            s->dense = 1;
            if (w->may_split)
                start_partner(w, position);
        }
    }
    w->position = position;
}

static void stretch_free(Stretch *w) {
    if (w == NULL)
        return;
    source_release(&w->s);
    PyMem_RawFree(w->offsets.values);
    PyMem_RawFree(w->lengths.ids);
    item_facts_free(&w->facts);
    PyMem_RawFree(w);
}

/* Wait for the partner; where this walk met it, take on its items, facts, end and
 * read error. */
static void join_partner(Stretch *w) {
    Stretch *partner = w->partner;
    size_t i;
    if (partner == NULL)
        return;
    if (!w->met)
        __atomic_store_n(&w->cancel, 1, __ATOMIC_RELAXED);
#if HAVE_THREADS
    pthread_join(partner->thread, NULL);
#endif
    if (w->met) {
        for (i = 0; i < partner->offsets.length && !w->no_memory; i++)
            w->no_memory = u64s_add(&w->offsets, partner->offsets.values[i]) != 0 ||
                           ids_add(&w->lengths, partner->lengths.ids[i]) != 0;
        if (!w->no_memory && w->family)
            w->no_memory = item_facts_append(&w->facts, &partner->facts, &w->key) != 0;
        w->no_memory |= partner->no_memory;
        w->position = partner->position;
        if (w->s.error == 0)
            w->s.error = partner->s.error;
    }
    stretch_free(partner);
    w->partner = NULL;
}

static long split_started, split_met; /* for the tests: second walkers started, and met */

/* A list of the numbers of a 32-bit (`ids`) or a 64-bit (`values`) array. */
/* (heads, tails, ends) as items() returns them. */
static PyObject *facts_tuple(const ItemFacts *facts) {
    PyObject *heads = ids_bytes(&facts->heads), *tails = ids_bytes(&facts->tails);
    PyObject *ends = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)facts->ends.length);
    PyObject *result = NULL;
    size_t i;
    if (heads != NULL && tails != NULL && ends != NULL) {
        for (i = 0; i < facts->ends.length; i++)
            PyBytes_AS_STRING(ends)[i] = (char)facts->ends.ids[i];
        result = PyTuple_Pack(3, heads, tails, ends);
    }
    Py_XDECREF(heads);
    Py_XDECREF(tails);
    Py_XDECREF(ends);
    return result;
}

static PyObject *core_items(PyObject *self, PyObject *args) {
    int fd, family = 0;
    unsigned long long size, position, end;
    Py_buffer buffer = {0};
    PyObject *memory = Py_None, *offsets = NULL, *lengths = NULL, *facts = NULL, *result = NULL;
    Stretch *w;
    int started, closed;
    (void)self;
    if (!PyArg_ParseTuple(args, "iKOKK|i", &fd, &size, &memory, &position, &end, &family))
        return NULL;
    if (!known_family(family, 1))
        return NULL;
    w = PyMem_RawCalloc(1, sizeof *w);
    if (w == NULL)
        return PyErr_NoMemory();
    if (source_from(&w->s, fd, size, memory, &buffer) != 0) {
        PyMem_RawFree(w);
        return NULL;
    }
    w->family = family;
    w->start = position;
    w->end = end > w->s.size ? w->s.size : end;
    w->meet = UINT64_MAX;
    w->may_split = 1;
    Py_BEGIN_ALLOW_THREADS
    walk_stretch(w);
    started = w->partner != NULL;
    join_partner(w);
    Py_END_ALLOW_THREADS
    split_started += started;
    split_met += started && w->met;
    closed = source_close(&w->s);
    if (closed == 0 && w->no_memory)
        PyErr_NoMemory();
    else if (closed == 0) {
        /* native unsigned 64-bit offsets and 32-bit lengths: walker.py makes them the
         * columns (array('Q'), array('I')) without an int object per item */
        offsets = PyBytes_FromStringAndSize((const char *)w->offsets.values,
                                            (Py_ssize_t)(w->offsets.length * sizeof(uint64_t)));
        lengths = offsets == NULL ? NULL
                                  : PyBytes_FromStringAndSize(
                                        (const char *)w->lengths.ids,
                                        (Py_ssize_t)(w->lengths.length * sizeof(uint32_t)));
        facts = lengths != NULL && family ? facts_tuple(&w->facts) : Py_NewRef(Py_None);
        if (facts != NULL)
            result = Py_BuildValue("OOKO", offsets, lengths, (unsigned long long)w->position, facts);
    }
    Py_XDECREF(offsets);
    Py_XDECREF(lengths);
    Py_XDECREF(facts);
    stretch_free(w);
    if (memory != Py_None)
        PyBuffer_Release(&buffer);
    return result;
}

static PyObject *core_table_matches(PyObject *self, PyObject *args) {
    PyObject *table_object, *offsets_object, *result = NULL;
    unsigned long long base;
    Column table, offsets;
    Py_ssize_t i;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOK", &table_object, &offsets_object, &base))
        return NULL;
    if (column_open(table_object, &table) != 0)
        return NULL;
    if (column_open(offsets_object, &offsets) != 0) {
        column_close(&table);
        return NULL;
    }
    result = Py_NewRef(table.length == offsets.length ? Py_True : Py_False);
    for (i = 0; result == Py_True && i < table.length; i++) {
        uint64_t entry, offset;
        if (column_at(&table, i, &entry) != 0 || column_at(&offsets, i, &offset) != 0) {
            Py_CLEAR(result);
            break;
        }
        if (offset < base || offset - base != entry)
            Py_SETREF(result, Py_NewRef(Py_False));
    }
    column_close(&table);
    column_close(&offsets);
    return result;
}

/* Every value of a column ORed together (`lowest`: the smallest, None for none). */
static PyObject *column_fold(PyObject *values, int lowest) {
    Column c;
    uint64_t bits = 0, smallest = UINT64_MAX, value;
    Py_ssize_t i;
    if (column_open(values, &c) != 0)
        return NULL;
    for (i = 0; i < c.length; i++) {
        if (column_at(&c, i, &value) != 0) {
            column_close(&c);
            return NULL;
        }
        bits |= value;
        if (value < smallest)
            smallest = value;
    }
    column_close(&c);
    if (!lowest)
        return PyLong_FromUnsignedLongLong(bits);
    return c.length == 0 ? Py_NewRef(Py_None) : PyLong_FromUnsignedLongLong(smallest);
}

static PyObject *core_bits_of(PyObject *self, PyObject *values) {
    (void)self;
    return column_fold(values, 0);
}

static PyObject *core_lowest(PyObject *self, PyObject *values) {
    (void)self;
    return column_fold(values, 1);
}

static PyObject *core_split_counts(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return Py_BuildValue("ll", split_started, split_met);
}

/* The id at `index` of an array of 32-bit ids held in bytes; -1 out of range. */
static int64_t id_at(const Py_buffer *ids, uint64_t index) {
    if (index >= (uint64_t)ids->len / sizeof(uint32_t))
        return -1;
    return ((const uint32_t *)ids->buf)[index];
}

static PyObject *core_groups_of(PyObject *self, PyObject *args) {
    Py_buffer heads = {0}, tails = {0}, ends = {0};
    unsigned long long base;
    Py_ssize_t frames, i;
    PyObject *firsts_object, *lasts_object, *result = NULL;
    Column firsts = {0}, lasts = {0};
    int numbered = 0;
    Grouping grouping;
    Key key;
    int64_t previous[3] = {0, 0, 0}; /* the frame before: its span, head and tail ids */
    (void)self;
    memset(&grouping, 0, sizeof grouping);
    if (!PyArg_ParseTuple(args, "y*y*y*KOOn", &heads, &tails, &ends, &base, &firsts_object,
                          &lasts_object, &frames))
        return NULL;
    if (open_numbers(firsts_object, lasts_object, &firsts, &lasts, &numbered) != 0)
        goto done;
    if (numbered && (firsts.length != frames || lasts.length != frames)) {
        PyErr_SetString(PyExc_TypeError, "firsts and lasts: `count` numbers each");
        goto done;
    }
    for (i = 0; i < frames; i++) {
        uint64_t first = (uint64_t)i + 1, last = first;
        int64_t head, tail = -1;
        if (numbered && (column_at(&firsts, i, &first) != 0 || column_at(&lasts, i, &last) != 0))
            goto done;
        if (first < 1 || last < first) {
            PyErr_SetString(PyExc_ValueError, "fragment numbers start at 1, first <= last");
            goto done;
        }
        head = id_at(&heads, base + first - 1);
        if (head >= 0 && head < ends.len && ((const char *)ends.buf)[head])
            tail = id_at(&tails, base + last - 1);
        else if (head >= 0 && head < ends.len)
            tail = -2; /* no end to judge: whatever the last item's tail */
        if (tail == -1) {
            PyErr_SetString(PyExc_IndexError, "a frame's items have no facts");
            goto done;
        }
        if (i > 0 && (int64_t)(last - first) == previous[0] && head == previous[1] &&
            tail == previous[2]) {
            if (grouping_again(&grouping, (uint32_t)(i + 1)) != 0)
                goto done;
            continue;
        }
        previous[0] = (int64_t)(last - first);
        previous[1] = head;
        previous[2] = tail;
        key.length = 0;
        put_i64(&key, previous[0]);
        put_i64(&key, head);
        put_i64(&key, tail);
        if (grouping_add(&grouping, &key, (uint32_t)(i + 1)) != 0)
            goto done;
    }
    result = grouping_result(&grouping);
done:
    grouping_free(&grouping);
    column_close(&lasts);
    column_close(&firsts);
    PyBuffer_Release(&heads);
    PyBuffer_Release(&tails);
    PyBuffer_Release(&ends);
    return result;
}

/* ---- the data set in front of Pixel Data (scanner.py) --------------------------------- */

/* scanner.py's walk of the common file (DICM prefix, explicit VR little endian), element
 * by element as its slow path goes (its fast path passes over the same elements the same
 * way). It keeps what the top level holds that the report needs: the headers of the
 * Transfer Syntax UID, of the wanted elements and of Pixel Data, and the identifying
 * values' spans; Python reads the few values and builds the record (scanner.scanned). Where
 * scanner.py would decline, this declines too; it also declines on encapsulated Pixel
 * Data nested in a sequence (an icon), which the Python scanner handles. */

#define SCAN_DECLINE 1 /* the functions below: 0 done, SCAN_DECLINE, -1 a Python error */
#define ITEM_TAG 0xFFFEE000u
#define ITEM_DELIMITER_TAG 0xFFFEE00Du
#define SEQUENCE_DELIMITER_TAG 0xFFFEE0DDu
#define PIXEL_DATA_TAG 0x7FE00010u

typedef struct {
    Py_buffer long_vrs, short_vrs;          /* the valid VRs, two bytes each */
    Py_buffer wanted, identifying, stops;   /* sorted uint32 tags */
    int max_nesting;
} ScanTables;

typedef struct {
    uint32_t tag;
    uint8_t vr[2]; /* 0 0 for items and delimiters */
    uint32_t length;
    uint64_t offset, value_offset;
} Raw;

typedef struct {
    Source *s;
    const ScanTables *t;
    PyObject *wanted;      /* [(tag, vr, length, offset, value_offset)] at the top level */
    PyObject *identifying; /* [(start, end)] */
    Raw pixel;
} Scan;

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static int has_vr(const Py_buffer *vrs, const uint8_t *vr) {
    const uint8_t *p = (const uint8_t *)vrs->buf;
    Py_ssize_t i;
    for (i = 0; i + 1 < vrs->len; i += 2)
        if (p[i] == vr[0] && p[i + 1] == vr[1])
            return 1;
    return 0;
}

/* Whether a sorted array of native uint32 tags (bytes, of any alignment) holds `tag`. */
static int has_tag(const Py_buffer *tags, uint32_t tag) {
    const uint8_t *p = (const uint8_t *)tags->buf;
    Py_ssize_t low = 0, high = tags->len / (Py_ssize_t)sizeof(uint32_t);
    while (low < high) {
        Py_ssize_t middle = low + (high - low) / 2;
        uint32_t at;
        memcpy(&at, p + middle * (Py_ssize_t)sizeof at, sizeof at);
        if (at == tag)
            return 1;
        if (at < tag)
            low = middle + 1;
        else
            high = middle;
    }
    return 0;
}

static int vr_is(const Raw *raw, const char *vr) { return raw->vr[0] == vr[0] && raw->vr[1] == vr[1]; }

/* scanner._element: the header at `offset`. */
static int scan_element(Scan *c, uint64_t offset, Raw *raw) {
    const uint8_t *p;
    uint64_t size = c->s->size;
    int64_t got;
    if (offset > size || size - offset < 8)
        return SCAN_DECLINE;
    got = source_read(c->s, offset, size - offset < 12 ? 8 : 12, &p);
    if (got < 8)
        return SCAN_DECLINE; /* a read error: the Python scanner meets and reports it */
    raw->tag = (uint32_t)le16(p) << 16 | le16(p + 2);
    raw->offset = offset;
    if (raw->tag >> 16 == 0xFFFE) {
        raw->vr[0] = raw->vr[1] = 0;
        raw->length = le32(p + 4);
        raw->value_offset = offset + 8;
        return 0;
    }
    raw->vr[0] = p[4];
    raw->vr[1] = p[5];
    if (has_vr(&c->t->long_vrs, p + 4)) {
        if (got < 12)
            return SCAN_DECLINE;
        raw->length = le32(p + 8);
        raw->value_offset = offset + 12;
        return 0;
    }
    if (!has_vr(&c->t->short_vrs, p + 4))
        return SCAN_DECLINE; /* implicit VR under an explicit syntax, or garbage */
    raw->length = le16(p + 6);
    raw->value_offset = offset + 8;
    return 0;
}

/* scanner._Raw's fields; the VR as text (str: it is one of the tables' VRs, ASCII). */
static PyObject *raw_tuple(const Raw *raw) {
    return Py_BuildValue("ks#kKK", (unsigned long)raw->tag, (const char *)raw->vr, (Py_ssize_t)2,
                         (unsigned long)raw->length, (unsigned long long)raw->offset,
                         (unsigned long long)raw->value_offset);
}

static int append_new(PyObject *list, PyObject *value) {
    int failed = value == NULL || PyList_Append(list, value) != 0;
    Py_XDECREF(value);
    return failed ? -1 : 0;
}

static int scan_sequence(Scan *c, const Raw *sequence, int depth, uint64_t *after);

/* scanner._dataset: the top level (depth 0, up to Pixel Data, into c->pixel), or an
 * item of defined length (`has_end`, up to `end`) or of undefined length (up to its
 * delimiter); `*level_end` is where the item ends. */
static int scan_dataset(Scan *c, uint64_t offset, int has_end, uint64_t end, int depth,
                        uint64_t *level_end) {
    int64_t previous = -1;
    int r;
    while (!has_end || offset < end) {
        Raw raw;
        if ((r = scan_element(c, offset, &raw)) != 0)
            return r;
        /* pydicom keeps a repeated tag at its first position with its last value, and
         * reads group 0000 as implicit VR: ascending tags rule both out */
        if ((int64_t)raw.tag <= previous || raw.tag >> 16 == 0)
            return SCAN_DECLINE;
        previous = raw.tag;
        if (raw.tag >> 16 == 0xFFFE) {
            if (depth == 0 || has_end || raw.tag != ITEM_DELIMITER_TAG || raw.length)
                return SCAN_DECLINE;
            *level_end = raw.value_offset;
            return 0;
        }
        if (depth == 0 && has_tag(&c->t->stops, raw.tag)) {
            if (raw.tag != PIXEL_DATA_TAG || !(vr_is(&raw, "OB") || vr_is(&raw, "OW")))
                return SCAN_DECLINE;
            c->pixel = raw;
            return 0;
        }
        if (vr_is(&raw, "UN") && !(raw.tag >> 16 & 1))
            return SCAN_DECLINE; /* pydicom may read it as a sequence, in implicit VR */
        if (depth == 0 && has_tag(&c->t->wanted, raw.tag) &&
            append_new(c->wanted, raw_tuple(&raw)) != 0)
            return -1;
        if (depth == 0 && raw.length != UNDEFINED_LENGTH &&
            (vr_is(&raw, "PN") || raw.tag >> 16 == 0x0010 ||
             has_tag(&c->t->identifying, raw.tag)) &&
            append_new(c->identifying,
                       Py_BuildValue("KK", (unsigned long long)raw.value_offset,
                                     (unsigned long long)(raw.value_offset + raw.length))) != 0)
            return -1;
        if (vr_is(&raw, "SQ")) {
            if ((r = scan_sequence(c, &raw, depth, &offset)) != 0)
                return r;
        } else if (raw.length != UNDEFINED_LENGTH) {
            offset = raw.value_offset + raw.length;
            if (offset > c->s->size)
                return SCAN_DECLINE;
        } else {
            /* an icon's encapsulated Pixel Data (the Python scanner reads it), or
             * a value pydicom would search a delimiter for */
            return SCAN_DECLINE;
        }
    }
    if (offset != end)
        return SCAN_DECLINE; /* the last element ran past the end of its item */
    *level_end = offset;
    return 0;
}

/* scanner._sequence: walk a sequence's items; `*after` is where it ends. */
static int scan_sequence(Scan *c, const Raw *sequence, int depth, uint64_t *after) {
    int defined = sequence->length != UNDEFINED_LENGTH, r;
    uint64_t end = sequence->value_offset + sequence->length, offset = sequence->value_offset;
    if (depth >= c->t->max_nesting)
        return SCAN_DECLINE;
    while (!defined || offset < end) {
        Raw item;
        uint64_t item_end = 0, level_end = 0;
        int item_defined;
        if ((r = scan_element(c, offset, &item)) != 0)
            return r;
        if (item.tag == SEQUENCE_DELIMITER_TAG && !defined && !item.length) {
            *after = item.value_offset;
            return 0;
        }
        if (item.tag != ITEM_TAG)
            return SCAN_DECLINE;
        item_defined = item.length != UNDEFINED_LENGTH;
        if (item_defined) {
            item_end = item.value_offset + item.length;
            if (item_end > (defined ? end : c->s->size))
                return SCAN_DECLINE;
        }
        if ((r = scan_dataset(c, item.value_offset, item_defined, item_end, depth + 1,
                              &level_end)) != 0)
            return r;
        offset = level_end;
    }
    if (offset != end)
        return SCAN_DECLINE;
    *after = offset;
    return 0;
}

/* scanner._file_meta: the Transfer Syntax UID element and where the data set starts. */
static int scan_file_meta(Scan *c, Raw *syntax, uint64_t *start) {
    uint64_t offset = 132, group_end = 0, size = c->s->size;
    int64_t previous = -1;
    int has_group_end = 0, has_syntax = 0, r;
    for (;;) {
        const uint8_t *p;
        Raw raw;
        if (offset > size || size - offset < 8)
            return SCAN_DECLINE;
        if (source_read(c->s, offset, 2, &p) < 2)
            return SCAN_DECLINE;
        if (p[0] != 0x02 || p[1] != 0x00)
            break; /* the first element of the data set */
        if ((r = scan_element(c, offset, &raw)) != 0)
            return r;
        if ((int64_t)raw.tag <= previous || (raw.vr[0] == 0 && raw.vr[1] == 0) ||
            vr_is(&raw, "SQ") || vr_is(&raw, "UN"))
            return SCAN_DECLINE;
        if (raw.length == UNDEFINED_LENGTH || raw.value_offset + raw.length > size)
            return SCAN_DECLINE;
        if (raw.tag == 0x00020000u) {
            if (!vr_is(&raw, "UL") || raw.length != 4 || offset != 132 ||
                source_read(c->s, raw.value_offset, 4, &p) < 4)
                return SCAN_DECLINE;
            group_end = raw.value_offset + 4 + le32(p);
            has_group_end = 1;
        }
        if (raw.tag == 0x00020010u) {
            *syntax = raw;
            has_syntax = 1;
        }
        previous = raw.tag;
        offset = raw.value_offset + raw.length;
    }
    if (!has_syntax || !vr_is(syntax, "UI") || (has_group_end && group_end != offset))
        return SCAN_DECLINE;
    *start = offset;
    return 0;
}

static int scan(Scan *c, PyObject **result) {
    const uint8_t *p;
    Raw syntax = {0};
    uint64_t start = 0, unused = 0;
    int r;
    if (c->s->size < 132 || source_read(c->s, 128, 4, &p) < 4 || memcmp(p, "DICM", 4) != 0)
        return SCAN_DECLINE;
    if ((r = scan_file_meta(c, &syntax, &start)) != 0)
        return r;
    if ((r = scan_dataset(c, start, 0, 0, 0, &unused)) != 0)
        return r;
    *result = Py_BuildValue("NKNOO", raw_tuple(&syntax), (unsigned long long)start,
                            raw_tuple(&c->pixel), c->wanted, c->identifying);
    return *result == NULL ? -1 : 0;
}

static PyObject *core_scan_dataset(PyObject *self, PyObject *args) {
    int fd;
    unsigned long long size;
    Py_buffer buffer = {0};
    PyObject *memory = Py_None, *result = NULL;
    ScanTables t;
    Source s;
    Scan c;
    int r;
    (void)self;
    memset(&t, 0, sizeof t);
    if (!PyArg_ParseTuple(args, "iKOy*y*y*y*y*i", &fd, &size, &memory, &t.long_vrs,
                          &t.short_vrs, &t.wanted, &t.identifying, &t.stops, &t.max_nesting))
        return NULL;
    memset(&c, 0, sizeof c);
    if (source_from(&s, fd, size, memory, &buffer) != 0)
        goto release;
    c.s = &s;
    c.t = &t;
    c.wanted = PyList_New(0);
    c.identifying = PyList_New(0);
    if (c.wanted != NULL && c.identifying != NULL) {
        r = scan(&c, &result);
        if (r == SCAN_DECLINE) {
            result = Py_None;
            Py_INCREF(result);
        }
    }
    source_release(&s);
    s.error = 0; /* a read error declines: the Python scanner reads again and reports it */
    if (memory != Py_None)
        PyBuffer_Release(&buffer);
release:
    Py_XDECREF(c.wanted);
    Py_XDECREF(c.identifying);
    PyBuffer_Release(&t.long_vrs);
    PyBuffer_Release(&t.short_vrs);
    PyBuffer_Release(&t.wanted);
    PyBuffer_Release(&t.identifying);
    PyBuffer_Release(&t.stops);
    return result;
}

/* ---- JPEG scan count: scan.py's twin (DEC003) ---------------------------------------
 * Walks a Huffman-coded sequential JPEG frame (SOF0, SOF1, SOF3) scan by scan and counts
 * the units each scan codes, with the frame's own tables, restart intervals and byte
 * stuffing; every read bounded by the frame's bytes. The result is scan.py's Raw tuple,
 * or None (the scans hold what the header requires, or the frame cannot be counted).
 * Each branch mirrors scan.py's; the tests compare the two on every frame they build. */

typedef struct {
    int present;
    int32_t maxcode[17];      /* the largest code of each length; -1: none */
    int32_t valoffset[17];    /* value index of a code of each length: code + offset */
    uint16_t look[512];       /* codes of at most 9 bits: length << 8 | value; 0: none */
    uint8_t values[16 * 255]; /* HUFFVAL */
} ScanTable;

typedef struct {
    uint8_t ident, h, v;
} ScanComponent;

typedef struct {
    const ScanTable *dc, *ac;
} ScanBlock;

typedef struct {
    const uint8_t *data;
    Py_ssize_t size;
    ScanTable tables[2][16];
    int restart;
    int have_frame, lossless;
    uint32_t width, height;
    int ncomponents;
    ScanComponent components[255];
    int hmax, vmax;
    long scans;
    uint8_t covered[256];
    uint8_t *unstuffed; /* one restart interval's coded bytes, FF 00 made FF */
    /* a scan's components and data units: here, not on the stack (a thread's may be small) */
    const ScanComponent *members[255];
    const ScanTable *dcs[255], *acs[255];
    ScanBlock blocks[255 * 16];
} ScanWalk;

typedef struct {
    Py_ssize_t position;
    const char *how;
    long long done, units;
    int lossless;
    int extra[256];
    int nextra;
} ScanFound;

enum { SCAN_UNCOUNTABLE = -1, SCAN_FINE = 0, SCAN_FOUND = 1 };

static int scan_table(ScanTable *t, const uint8_t *counts, const uint8_t *values, int total) {
    memset(t, 0, sizeof *t);
    memcpy(t->values, values, (size_t)total);
    int32_t code = 0;
    int k = 0;
    for (int length = 1; length <= 16; length++) {
        int n = counts[length - 1];
        t->maxcode[length] = -1;
        t->valoffset[length] = k - code;
        for (int i = 0; i < n; i++) {
            if (code >= (1 << length)) return SCAN_UNCOUNTABLE; /* more codes than fit */
            if (length <= 9) {
                int first = code << (9 - length), span = 1 << (9 - length);
                for (int j = 0; j < span; j++)
                    t->look[first + j] = (uint16_t)(length << 8 | values[k]);
            }
            t->maxcode[length] = code;
            code++;
            k++;
        }
        code <<= 1;
    }
    t->present = 1;
    return SCAN_FINE;
}

/* the code the 16 bits start with: length << 8 | value; 0 when none does */
static inline int scan_code(const ScanTable *t, uint32_t bits16) {
    int e = t->look[bits16 >> 7];
    if (e) return e;
    for (int length = 10; length <= 16; length++) {
        int32_t code = (int32_t)(bits16 >> (16 - length));
        if (code <= t->maxcode[length]) return length << 8 | t->values[code + t->valoffset[length]];
    }
    return 0;
}

static inline uint32_t scan_peek(const uint8_t *u, size_t n, uint64_t bit) {
    uint64_t byte = bit >> 3;
    uint32_t w = 0;
    for (int i = 0; i < 3; i++) w = w << 8 | (byte + (uint64_t)i < n ? u[byte + (uint64_t)i] : 0);
    return (w >> (8 - (bit & 7))) & 0xFFFF;
}

/* up to `wanted` units: *got whole, *stop the bit after the last whole one (or where an
 * invalid code starts); returns whether a code was invalid */
static int scan_decode(const uint8_t *u, size_t n, const ScanBlock *blocks, int nblocks,
                       long long wanted, int lossless, long long *got, uint64_t *stop) {
    uint64_t limit = (uint64_t)n * 8, bit = 0;
    for (long long unit = 0; unit < wanted; unit++) {
        uint64_t start = bit;
        for (int b = 0; b < nblocks; b++) {
            int e = scan_code(blocks[b].dc, scan_peek(u, n, bit));
            int size = e & 0xFF;
            if (!e || size > (lossless ? 16 : 15)) {
                *got = unit;
                *stop = bit < limit ? bit : start;
                return bit < limit;
            }
            bit += (uint64_t)(e >> 8) + (uint64_t)(lossless && size == 16 ? 0 : size);
            if (lossless) continue;
            int k = 1;
            while (k < 64) {
                e = scan_code(blocks[b].ac, scan_peek(u, n, bit));
                if (!e) {
                    *got = unit;
                    *stop = bit < limit ? bit : start;
                    return bit < limit;
                }
                int run_size = e & 0xFF, sz = run_size & 15;
                bit += (uint64_t)(e >> 8) + (uint64_t)sz;
                if (sz) k += (run_size >> 4 & 15) + 1;
                else if ((run_size & 0xF0) == 0xF0) k += 16;
                else break;
            }
            if (bit > limit) break;
            if (k > 64) {
                *got = unit;
                *stop = start;
                return 1;
            }
        }
        if (bit > limit) {
            *got = unit;
            *stop = start;
            return 0;
        }
    }
    *got = wanted;
    *stop = bit;
    return 0;
}

static Py_ssize_t scan_next_marker(const ScanWalk *w, Py_ssize_t position) {
    const uint8_t *d = w->data;
    for (Py_ssize_t i = position; i + 1 < w->size; i++) {
        if (d[i] != 0xFF) continue;
        if (d[i + 1] != 0x00) return i;
        i++;
    }
    return w->size;
}

static Py_ssize_t scan_stuffed_length(const ScanWalk *w, Py_ssize_t start, uint64_t bits) {
    uint64_t wanted = (bits + 7) / 8;
    Py_ssize_t position = start;
    while (wanted > 0 && position < w->size) {
        position += w->data[position] == 0xFF ? 2 : 1;
        wanted--;
    }
    return position - start;
}

static long long scan_units(const ScanWalk *w, const ScanComponent *const *members, int count) {
    long long size = w->lossless ? 1 : 8;
    if (count == 1) {
        long long columns = ((long long)w->width * members[0]->h + w->hmax - 1) / w->hmax;
        long long rows = ((long long)w->height * members[0]->v + w->vmax - 1) / w->vmax;
        return ((columns + size - 1) / size) * ((rows + size - 1) / size);
    }
    return (((long long)w->width + size * w->hmax - 1) / (size * w->hmax)) *
           (((long long)w->height + size * w->vmax - 1) / (size * w->vmax));
}

/* one scan: SCAN_FOUND with *found, SCAN_FINE with *after, or SCAN_UNCOUNTABLE */
static int scan_one(ScanWalk *w, const uint8_t *segment, Py_ssize_t length, Py_ssize_t end,
                    ScanFound *found, Py_ssize_t *after) {
    if (!w->have_frame || length < 1) return SCAN_UNCOUNTABLE;
    int count = segment[0];
    if (count < 1 || length < 1 + 2 * count + 3) return SCAN_UNCOUNTABLE;
    const ScanComponent **members = w->members;
    const ScanTable **dcs = w->dcs, **acs = w->acs;
    for (int n = 0; n < count; n++) {
        uint8_t ident = segment[1 + 2 * n], selectors = segment[2 + 2 * n];
        const ScanComponent *c = NULL;
        for (int i = 0; i < w->ncomponents; i++) /* the last with that id, as a dict */
            if (w->components[i].ident == ident) c = &w->components[i];
        const ScanTable *dc = &w->tables[0][selectors >> 4], *ac = &w->tables[1][selectors & 15];
        if (!c || !dc->present || (!w->lossless && !ac->present)) return SCAN_UNCOUNTABLE;
        members[n] = c;
        dcs[n] = dc;
        acs[n] = ac->present ? ac : NULL;
    }
    w->scans++;
    for (int n = 0; n < count; n++) w->covered[members[n]->ident] = 1;
    long long units = scan_units(w, members, count);
    ScanBlock *blocks = w->blocks;
    int nblocks = 0;
    for (int n = 0; n < count; n++)
        for (int j = 0; j < members[n]->h * members[n]->v; j++)
            blocks[nblocks++] = (ScanBlock){dcs[n], acs[n]};
    if (count == 1) nblocks = 1; /* non-interleaved: one data unit per MCU */
    long long interval = w->restart ? w->restart : units;
    long long intervals = (units + interval - 1) / interval;
    long long done = 0;
    found->units = units;
    found->lossless = w->lossless;
    found->nextra = 0;
    /* the restart intervals, each unstuffed in turn */
    Py_ssize_t position = end, marker_at;
    for (long long number = 0;; number++) {
        marker_at = scan_next_marker(w, position);
        *after = marker_at; /* where the scan's last interval ends, when it is the last */
        int more_intervals = marker_at + 1 < w->size && w->data[marker_at + 1] >= 0xD0 &&
                             w->data[marker_at + 1] <= 0xD7;
        Py_ssize_t start = position;
        if (number >= intervals) {
            found->position = start;
            found->how = "more";
            found->done = done;
            goto report;
        }
        size_t n = 0;
        for (Py_ssize_t i = start; i < marker_at; i++) {
            w->unstuffed[n++] = w->data[i];
            if (w->data[i] == 0xFF && i + 1 < marker_at && w->data[i + 1] == 0x00) i++;
        }
        long long wanted = interval < units - done ? interval : units - done;
        long long got;
        uint64_t stop;
        int invalid =
            scan_decode(w->unstuffed, n, blocks, nblocks, wanted, w->lossless, &got, &stop);
        done += got;
        Py_ssize_t where = start + scan_stuffed_length(w, start, stop);
        found->done = done;
        if (invalid) {
            found->position = where;
            found->how = "invalid";
            goto report;
        }
        if (got < wanted) {
            found->position = marker_at;
            found->how = "short";
            goto report;
        }
        for (size_t i = (size_t)((stop + 7) / 8); i < n; i++) {
            if (w->unstuffed[i] != 0xFF) { /* whole bytes after the last unit, not padding */
                found->position = where;
                found->how = "more";
                goto report;
            }
        }
        if (!more_intervals) break;
        position = marker_at + 2;
    }
    *after = marker_at;
    if (done < units) {
        found->position = marker_at;
        found->how = "short";
        found->done = done;
        return SCAN_FOUND;
    }
    return SCAN_FINE;
report:
    /* the scan's end, for the caller's walk: not needed once something is found */
    return SCAN_FOUND;
}

static int scan_frame(ScanWalk *w, ScanFound *found) {
    const uint8_t *d = w->data;
    Py_ssize_t size = w->size;
    if (size < 2 || d[0] != 0xFF || d[1] != 0xD8) return SCAN_UNCOUNTABLE;
    Py_ssize_t position = 2;
    for (;;) {
        if (position >= size || d[position] != 0xFF) return SCAN_UNCOUNTABLE;
        while (position + 1 < size && d[position + 1] == 0xFF) position++; /* fill */
        if (position + 1 >= size) return SCAN_UNCOUNTABLE;
        int marker = d[position + 1];
        if (marker == 0xD9) { /* EOI */
            if (!w->have_frame || !w->scans) return SCAN_UNCOUNTABLE;
            found->nextra = 0;
            for (int i = 0; i < w->ncomponents; i++)
                if (!w->covered[w->components[i].ident])
                    found->extra[found->nextra++] = w->components[i].ident;
            if (!found->nextra) return SCAN_FINE;
            found->position = position;
            found->how = "missing";
            found->done = found->units = 0;
            found->lossless = w->lossless;
            return SCAN_FOUND;
        }
        if (marker >= 0xD0 && marker <= 0xD7) {
            found->position = position;
            found->how = "rst";
            found->done = found->units = 0;
            found->lossless = 0;
            found->extra[0] = marker - 0xD0;
            found->nextra = 1;
            return SCAN_FOUND;
        }
        if (position + 4 > size) return SCAN_UNCOUNTABLE;
        Py_ssize_t length = be16(d + position + 2), end = position + 2 + length;
        if (length < 2 || end > size) return SCAN_UNCOUNTABLE;
        const uint8_t *segment = d + position + 4;
        Py_ssize_t seglen = length - 2;
        if (marker == 0xC0 || marker == 0xC1 || marker == 0xC3) {
            if (seglen < 6) return SCAN_UNCOUNTABLE;
            uint32_t height = be16(segment + 1), width = be16(segment + 3);
            int count = segment[5];
            if (!width || !height || !count || seglen < 6 + 3 * count) return SCAN_UNCOUNTABLE;
            int hmax = 0, vmax = 0;
            for (int n = 0; n < count; n++) {
                uint8_t sampling = segment[7 + 3 * n];
                int h = sampling >> 4, v = sampling & 15;
                if (h < 1 || h > 4 || v < 1 || v > 4) return SCAN_UNCOUNTABLE;
                w->components[n] = (ScanComponent){segment[6 + 3 * n], (uint8_t)h, (uint8_t)v};
                hmax = h > hmax ? h : hmax;
                vmax = v > vmax ? v : vmax;
            }
            w->ncomponents = count;
            w->hmax = hmax;
            w->vmax = vmax;
            w->width = width;
            w->height = height;
            w->lossless = marker == 0xC3;
            w->have_frame = 1;
        } else if ((marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                    marker != 0xCC) ||
                   marker == 0xDC) {
            return SCAN_UNCOUNTABLE; /* progressive, hierarchical, arithmetic; DNL */
        } else if (marker == 0xC4) {
            Py_ssize_t at = 0;
            while (at < seglen) {
                if (at + 17 > seglen) return SCAN_UNCOUNTABLE;
                int kind = segment[at] >> 4, ident = segment[at] & 15, total = 0;
                for (int i = 1; i <= 16; i++) total += segment[at + i];
                if (kind > 1 || at + 17 + total > seglen) return SCAN_UNCOUNTABLE;
                if (scan_table(&w->tables[kind][ident], segment + at + 1, segment + at + 17,
                               total) != SCAN_FINE)
                    return SCAN_UNCOUNTABLE;
                at += 17 + total;
            }
        } else if (marker == 0xDD) {
            if (seglen < 2) return SCAN_UNCOUNTABLE;
            w->restart = be16(segment);
        } else if (marker == 0xDA) {
            Py_ssize_t after = 0;
            int result = scan_one(w, segment, seglen, end, found, &after);
            if (result != SCAN_FINE) return result;
            position = after;
            continue;
        }
        position = end;
    }
}

static PyObject *core_jpeg_scan(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    ScanWalk *w = PyMem_Calloc(1, sizeof *w);
    ScanFound *found = PyMem_Calloc(1, sizeof *found);
    uint8_t *unstuffed = PyMem_Malloc(view.len > 0 ? (size_t)view.len : 1);
    PyObject *result = NULL;
    if (!w || !found || !unstuffed) {
        PyErr_NoMemory();
        goto done;
    }
    w->data = view.buf;
    w->size = view.len;
    w->unstuffed = unstuffed;
    int outcome;
    Py_BEGIN_ALLOW_THREADS outcome = scan_frame(w, found);
    Py_END_ALLOW_THREADS if (outcome != SCAN_FOUND) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *extra = PyTuple_New(found->nextra);
    if (!extra) goto done;
    for (int i = 0; i < found->nextra; i++)
        PyTuple_SET_ITEM(extra, i, PyLong_FromLong(found->extra[i]));
    result = Py_BuildValue("(nslLLNN)", found->position, found->how, w->scans, found->done,
                           found->units, PyBool_FromLong(found->lossless), extra);
done:
    PyMem_Free(unstuffed);
    PyMem_Free(found);
    PyMem_Free(w);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"items", core_items, METH_VARARGS,
     "items(fd, size, buffer, position, end, family=0) -> (offsets, lengths, position, facts)"},
    {"table_matches", core_table_matches, METH_VARARGS,
     "table_matches(table, values, base) -> whether values[i] == table[i] + base for all i"},
    {"bits_of", core_bits_of, METH_O, "bits_of(values) -> every value ORed together"},
    {"lowest", core_lowest, METH_O, "lowest(values) -> the smallest value, None for none"},
    {"split_counts", core_split_counts, METH_NOARGS,
     "split_counts() -> (second walkers started, second walkers met), for the tests"},
    {"groups_of", core_groups_of, METH_VARARGS,
     "groups_of(heads, tails, ends, base, firsts, lasts, count) -> frame numbers grouped"},
    {"frame_facts", core_frame_facts, METH_VARARGS,
     "frame_facts(fd, size, buffer, family, value, available, last_value, last_length,"
     " last_available) -> (start, end, header) of one frame, as tuples"},
    {"frame_groups", core_frame_groups, METH_VARARGS,
     "frame_groups(fd, size, buffer, family, offsets, lengths, availables, firsts, lasts)"
     " -> frame numbers grouped by their facts"},
    {"scan_dataset", core_scan_dataset, METH_VARARGS,
     "scan_dataset(fd, size, buffer, long_vrs, short_vrs, wanted, identifying, stops,"
     " max_nesting) -> (syntax, start, pixel, wanted, identifying) or None"},
    {"jpeg_scan", core_jpeg_scan, METH_O,
     "jpeg_scan(frame) -> scan.py's Raw: where a JPEG frame's scans stop matching its"
     " header, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_core", "The compiled core of encaps-lint (see core.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
