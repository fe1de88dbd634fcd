/* pocketsphinx.c: the local engine, CMU PocketSphinx 5prealpha (Debian's
 * libpocketsphinx3) with the en-us acoustic model, language model and
 * dictionary of the pocketsphinx-en-us package.
 *
 * Decoders. A decoder holds the models (tens of MB) and takes a few tenths
 * of a second to build, and is not thread-safe, so each thread that
 * transcribes gets its own, built on its first request and kept in a
 * thread-specific slot until the thread ends: job workers build one each,
 * once. Between requests a decoder is reset: ps_start_stream() restarts
 * the frame count, the noise estimate and the voice activity detector,
 * and the live cepstral mean normalisation (whose mean, running sum and
 * frame count PocketSphinx otherwise carries from one utterance to the
 * next) is set back to its state when the decoder was built. A result thus
 * depends on the audio alone, whichever worker decodes it and whatever it
 * decoded before, and is what a freshly built decoder would give.
 *
 * Decoding. PCM comes from media/decode.h in 16 kHz mono chunks and is fed
 * to ps_process_raw() as it comes, as pocketsphinx_continuous does: the
 * decoder's voice activity detector cuts the stream into utterances at
 * pauses, each utterance ends when speech stops (or after
 * MAX_UTTERANCE_SECONDS, to bound the search), and its words are read with
 * the segment iterator. Frame numbers are stream-wide, so word times are
 * seconds from the start of the audio. Each utterance starts a segment; a
 * segment also ends at a silence of PAUSE_SECONDS between two words or
 * when it reaches SEGMENT_SECONDS (Whisper's window). Fillers (<s>, <sil>,
 * [NOISE], ++...++) are dropped and alternative pronunciations ("was(2)")
 * lose their suffix. A word's probability is its lattice posterior. */
#include "asr/asr.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>

#include "media/decode.h"
#include "util/error.h"
#include "util/log.h"

#define CHUNK_SAMPLES 2048 /* as pocketsphinx_continuous: the VAD is consulted once per chunk */
#define MAX_UTTERANCE_SECONDS 60
#define PAUSE_SECONDS 0.5
#define SEGMENT_SECONDS 30.0
#define MIN_PROBABILITY 1e-6
#define PATH_MAX_LEN 4096

static const char *const languages[] = {"en", NULL};

struct engine {
    char hmm[PATH_MAX_LEN];
    char lm[PATH_MAX_LEN];
    char dict[PATH_MAX_LEN];
    pthread_key_t slot; /* this thread's struct decoder */
};

struct decoder {
    cmd_ln_t *config;
    ps_decoder_t *ps;
    /* The live CMN as built: its mean (the model's -cmninit), running
     * sum and frame count, restored before every request. */
    mfcc_t *cmn_mean, *cmn_sum;
    int32 cmn_nframe;
    int cmn_veclen;
    int frame_rate;
};

/* ps_init reads and writes sphinxbase's process-wide state (its log
 * stream, above all): one at a time. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static void decoder_free(void *arg)
{
    struct decoder *dc = arg;
    if (!dc)
        return;
    ps_free(dc->ps);
    cmd_ln_free_r(dc->config);
    free(dc->cmn_mean);
    free(dc->cmn_sum);
    free(dc);
}

static int decoder_new(struct engine *e, struct decoder **out)
{
    struct decoder *dc = calloc(1, sizeof *dc);
    if (!dc)
        return SILO_ENOMEM;
    pthread_mutex_lock(&init_lock);
    err_set_logfp(NULL);
    dc->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", e->hmm, "-lm", e->lm, "-dict", e->dict, NULL);
    dc->ps = dc->config ? ps_init(dc->config) : NULL;
    pthread_mutex_unlock(&init_lock);
    if (!dc->ps) {
        log_error("pocketsphinx: cannot build a decoder from %s", e->hmm);
        decoder_free(dc);
        return SILO_EUNAVAILABLE;
    }
    const cmn_t *cmn = ps_get_feat(dc->ps)->cmn_struct;
    dc->cmn_veclen = cmn ? cmn->veclen : 0;
    dc->cmn_mean = calloc((size_t)(dc->cmn_veclen > 0 ? dc->cmn_veclen : 1), sizeof *dc->cmn_mean);
    dc->cmn_sum = calloc((size_t)(dc->cmn_veclen > 0 ? dc->cmn_veclen : 1), sizeof *dc->cmn_sum);
    if (!dc->cmn_mean || !dc->cmn_sum) {
        decoder_free(dc);
        return SILO_ENOMEM;
    }
    if (cmn) {
        memcpy(dc->cmn_mean, cmn->cmn_mean, (size_t)dc->cmn_veclen * sizeof *dc->cmn_mean);
        memcpy(dc->cmn_sum, cmn->sum, (size_t)dc->cmn_veclen * sizeof *dc->cmn_sum);
        dc->cmn_nframe = cmn->nframe;
    }
    dc->frame_rate = cmd_ln_int32_r(dc->config, "-frate");
    if (dc->frame_rate <= 0)
        dc->frame_rate = 100;
    *out = dc;
    return 0;
}

static int thread_decoder(struct engine *e, struct decoder **out)
{
    struct decoder *dc = pthread_getspecific(e->slot);
    if (!dc) {
        int rc = decoder_new(e, &dc);
        if (rc)
            return rc;
        if (pthread_setspecific(e->slot, dc)) {
            decoder_free(dc);
            return SILO_ENOMEM;
        }
        log_info("pocketsphinx: decoder built for this worker");
    }
    *out = dc;
    return 0;
}

static int ps_open(const struct asr_config *cfg, void **ctx_out)
{
    const char *dir =
        cfg->model_dir && *cfg->model_dir ? cfg->model_dir : "/usr/share/pocketsphinx/model/en-us";
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return SILO_ENOMEM;
    snprintf(e->hmm, sizeof e->hmm, "%s/en-us", dir);
    snprintf(e->lm, sizeof e->lm, "%s/en-us.lm.bin", dir);
    snprintf(e->dict, sizeof e->dict, "%s/cmudict-en-us.dict", dir);
    const char *need[] = {e->hmm, e->lm, e->dict};
    for (size_t i = 0; i < 3; i++) {
        if (access(need[i], R_OK) != 0) {
            log_error("pocketsphinx: cannot read %s (setting 'asr-model'; Debian package pocketsphinx-en-us)",
                      need[i]);
            free(e);
            return SILO_EINVAL;
        }
    }
    if (pthread_key_create(&e->slot, decoder_free)) {
        free(e);
        return SILO_ENOMEM;
    }
    *ctx_out = e;
    return 0;
}

static void ps_close(void *ctx)
{
    struct engine *e = ctx;
    if (!e)
        return;
    decoder_free(pthread_getspecific(e->slot)); /* the calling thread's; others free theirs as they end */
    pthread_setspecific(e->slot, NULL);
    pthread_key_delete(e->slot);
    free(e);
}

/* ---- reading an utterance ---- */

static bool is_filler(const char *word)
{
    return word[0] == '<' || word[0] == '[' || word[0] == '+' || word[0] == '\0';
}

/* The segment being built across utterances. */
struct segmenter {
    struct asr_segment seg;
    bool open;
    double logprob_sum;
    char text[8192];
    size_t text_len;
    bool text_full;
};

static int close_segment(struct asr_result *r, struct segmenter *sg)
{
    if (!sg->open)
        return 0;
    sg->open = false;
    sg->seg.text = sg->text;
    sg->seg.avg_logprob = sg->seg.word_count ? sg->logprob_sum / (double)sg->seg.word_count : 0;
    return asr_result_add_segment(r, &sg->seg);
}

/* Adds word to the open segment, opening one (after closing the last)
 * when a new utterance starts, after a pause or past SEGMENT_SECONDS.
 * Segment texts longer than the buffer are kept whole in r->text (joined
 * from the words) but cut in the segment. */
static int add_word(struct asr_result *r, struct segmenter *sg, bool utterance_start, const char *word,
                    double start, double end, double probability)
{
    int rc;
    bool split = !sg->open || utterance_start || start - sg->seg.end >= PAUSE_SECONDS ||
                 end - sg->seg.start > SEGMENT_SECONDS;
    if (split) {
        if ((rc = close_segment(r, sg)))
            return rc;
        memset(sg, 0, sizeof *sg);
        sg->open = true;
        sg->seg.start = start;
        sg->seg.first_word = r->word_count;
    }
    if ((rc = asr_result_add_word(r, word, start, end, probability)))
        return rc;
    sg->seg.word_count++;
    sg->seg.end = end;
    sg->logprob_sum += log(probability > MIN_PROBABILITY ? probability : MIN_PROBABILITY);
    size_t n = strlen(word);
    if (!sg->text_full && sg->text_len + n + 2 < sizeof sg->text) {
        if (sg->text_len)
            sg->text[sg->text_len++] = ' ';
        memcpy(sg->text + sg->text_len, word, n + 1);
        sg->text_len += n;
    } else {
        sg->text_full = true;
    }
    return 0;
}

/* Ends the utterance in progress and adds its words to r. */
static int end_utterance(struct decoder *dc, struct asr_result *r, struct segmenter *sg)
{
    ps_end_utt(dc->ps);
    int32 score;
    if (!ps_get_hyp(dc->ps, &score))
        return 0;        /* nothing recognised */
    ps_get_prob(dc->ps); /* computes the lattice posteriors the iterator reports */
    logmath_t *lmath = ps_get_logmath(dc->ps);
    bool first = true;
    for (ps_seg_t *seg = ps_seg_iter(dc->ps); seg; seg = ps_seg_next(seg)) {
        const char *raw = ps_seg_word(seg);
        if (is_filler(raw))
            continue;
        char word[256];
        snprintf(word, sizeof word, "%s", raw);
        char *paren = strchr(word, '(');
        if (paren && paren != word)
            *paren = '\0';
        int sf, ef;
        int32 ascr, lscr, lback;
        ps_seg_frames(seg, &sf, &ef);
        double probability = logmath_exp(lmath, ps_seg_prob(seg, &ascr, &lscr, &lback));
        if (!(probability >= 0) || probability > 1)
            probability = probability > 1 ? 1 : 0;
        int rc = add_word(r, sg, first, word, (double)sf / dc->frame_rate, (double)(ef + 1) / dc->frame_rate,
                          probability);
        if (rc) {
            ps_seg_free(seg);
            return rc;
        }
        first = false;
    }
    return 0;
}

static int ps_transcribe(void *ctx, const struct asr_source *src, const struct asr_options *opt,
                         asr_stop_fn stop, void *stop_arg, struct asr_result *out, char **error_out)
{
    struct engine *e = ctx;
    struct decoder *dc = NULL;
    struct decode *pcm = NULL;
    struct segmenter *sg = NULL;
    int16_t *chunk = NULL;
    int rc;

    (void)opt; /* English only (asr_transcribe checked); prompt and temperature have no equivalent */
    if ((rc = decode_open(src->st, src->bucket, src->key, DECODE_SAMPLE_RATE, &pcm))) {
        if (rc == SILO_EMEDIATYPE)
            *error_out = strdup("the file holds no audio that can be decoded");
        goto fail;
    }
    if ((rc = thread_decoder(e, &dc)))
        goto fail;
    sg = calloc(1, sizeof *sg);
    chunk = malloc(CHUNK_SAMPLES * sizeof *chunk);
    if (!sg || !chunk) {
        rc = SILO_ENOMEM;
        goto fail;
    }

    /* Reset: the stream, the noise estimate, the VAD and the cepstral
     * mean, to the state of a decoder just built. */
    ps_start_stream(dc->ps);
    cmn_t *cmn = ps_get_feat(dc->ps)->cmn_struct;
    if (cmn) {
        memcpy(cmn->cmn_mean, dc->cmn_mean, (size_t)dc->cmn_veclen * sizeof *cmn->cmn_mean);
        memcpy(cmn->sum, dc->cmn_sum, (size_t)dc->cmn_veclen * sizeof *cmn->sum);
        cmn->nframe = dc->cmn_nframe;
    }
    ps_start_utt(dc->ps);
    bool in_speech = false;
    uint64_t speech_start = 0;
    for (;;) {
        size_t n = 0;
        if ((rc = decode_read(pcm, chunk, CHUNK_SAMPLES, &n))) {
            if (rc == SILO_EMEDIATYPE)
                *error_out = strdup("the file holds no audio that can be decoded");
            goto fail_utt;
        }
        if (n == 0)
            break;
        if (stop && stop(stop_arg)) {
            rc = SILO_ECONFLICT;
            goto fail_utt;
        }
        if (ps_process_raw(dc->ps, chunk, n, FALSE, FALSE) < 0) {
            rc = SILO_EINTERNAL;
            goto fail_utt;
        }
        bool speaking = ps_get_in_speech(dc->ps) != 0;
        uint64_t now = decode_position(pcm);
        if (speaking && !in_speech)
            speech_start = now;
        bool too_long = speaking && now - speech_start > (uint64_t)MAX_UTTERANCE_SECONDS * DECODE_SAMPLE_RATE;
        if ((in_speech && !speaking) || too_long) {
            if ((rc = end_utterance(dc, out, sg)))
                goto fail;
            ps_start_utt(dc->ps);
            speech_start = now;
        }
        in_speech = speaking && !too_long;
    }
    if ((rc = end_utterance(dc, out, sg)) || (rc = close_segment(out, sg)))
        goto fail;
    out->duration = (double)decode_position(pcm) / DECODE_SAMPLE_RATE;
    out->language = strdup("english");
    rc = out->language ? asr_result_join_text(out) : SILO_ENOMEM;
    goto fail; /* the one exit, rc 0 or not */

fail_utt:
    ps_end_utt(dc->ps);
fail:
    free(chunk);
    free(sg);
    decode_close(pcm);
    return rc;
}

const struct asr_ops asr_pocketsphinx_ops = {
    .name = "pocketsphinx",
    .languages = languages,
    .open = ps_open,
    .close = ps_close,
    .transcribe = ps_transcribe,
};
