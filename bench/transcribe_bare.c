/* transcribe_bare.c: the bare engine silo's transcription is measured
 * against: libpocketsphinx alone, decoding 16 kHz mono 16-bit WAV files the
 * way pocketsphinx_continuous -infile does (the Debian package of that tool
 * is not installed with the library): a fresh decoder with the en-us model
 * per file (as one run of that tool per file), the audio fed in 2048-sample
 * chunks, an utterance ended whenever the voice activity detector says
 * speech stopped. No silo code is used. Building the decoder is not timed.
 *
 *   transcribe_bare MODEL_DIR FILE.wav...
 *
 * Prints one sclite "trn" line per file, "words (file-id)", and on stderr
 * the audio seconds, the decoding seconds and their ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pocketsphinx.h>
#include <sphinxbase/err.h>

#define CHUNK 2048
#define LINE_MAX_BYTES 65536

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Appends the current utterance's words (fillers and "(2)" dropped) to line. */
static void collect(ps_decoder_t *ps, char *line, size_t *len)
{
    int32 score;
    if (!ps_get_hyp(ps, &score))
        return;
    for (ps_seg_t *seg = ps_seg_iter(ps); seg; seg = ps_seg_next(seg)) {
        const char *w = ps_seg_word(seg);
        if (w[0] == '<' || w[0] == '[' || w[0] == '+')
            continue;
        size_t n = strcspn(w, "(");
        if (*len + n + 2 < LINE_MAX_BYTES) {
            if (*len)
                line[(*len)++] = ' ';
            memcpy(line + *len, w, n);
            *len += n;
            line[*len] = '\0';
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: transcribe_bare MODEL_DIR FILE.wav...\n");
        return 2;
    }
    char hmm[4096], lm[4096], dict[4096];
    snprintf(hmm, sizeof hmm, "%s/en-us", argv[1]);
    snprintf(lm, sizeof lm, "%s/en-us.lm.bin", argv[1]);
    snprintf(dict, sizeof dict, "%s/cmudict-en-us.dict", argv[1]);
    err_set_logfp(NULL);
    static char line[LINE_MAX_BYTES];
    double audio = 0, busy = 0;
    for (int i = 2; i < argc; i++) {
        cmd_ln_t *config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict, NULL);
        ps_decoder_t *ps = config ? ps_init(config) : NULL;
        if (!ps) {
            fprintf(stderr, "cannot build a decoder from %s\n", argv[1]);
            return 1;
        }
        FILE *f = fopen(argv[i], "rb");
        if (!f || fseek(f, 44, SEEK_SET) != 0) { /* the canonical 44-byte header of these clips */
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        double started = now();
        size_t len = 0, n;
        int16 buf[CHUNK];
        uint8 in_speech = 0;
        line[0] = '\0';
        ps_start_utt(ps);
        long samples = 0;
        while ((n = fread(buf, 2, CHUNK, f)) > 0) {
            samples += (long)n;
            ps_process_raw(ps, buf, n, FALSE, FALSE);
            uint8 speaking = ps_get_in_speech(ps);
            if (in_speech && !speaking) {
                ps_end_utt(ps);
                collect(ps, line, &len);
                ps_start_utt(ps);
            }
            in_speech = speaking;
        }
        ps_end_utt(ps);
        collect(ps, line, &len);
        fclose(f);
        busy += now() - started;
        audio += (double)samples / 16000;
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        printf("%s (%.*s)\n", line, (int)strcspn(base, "."), base);
        ps_free(ps);
        cmd_ln_free_r(config);
    }
    fprintf(stderr, "bare: %.2f s of audio decoded in %.2f s, real-time factor %.3f\n", audio, busy,
            busy / audio);
    return 0;
}
