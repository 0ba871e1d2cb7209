/*
 * otrpeer: a line-driven test peer around real libotr 4.1.1.
 *
 * Build: gcc -O2 -Wall -o otrpeer tests/peer/otrpeer.c -lotr -lgcrypt
 *
 * One process = one OtrlUserState with one local account (protocol "xmpp").
 * Commands arrive on stdin, one per line; every command's output ends with a
 * line `ok` or `err TEXT`.  Binary or free text travels hex-encoded (lower
 * case on output, either case on input); an empty hex value is written `-`
 * (and `-` is accepted as empty on input), so that fields never vanish.
 * stdout is flushed after every line.  stderr carries free-form diagnostics.
 *
 * The full protocol is described in notes/peer-protocol.md and at the top of
 * tests/support/libotr.rs.  Behaviour worth knowing:
 *  - `send`: libotr injects what it produces (OTRL_FRAGMENT_SEND_ALL); when it
 *    leaves the message alone (plaintext state, no whitespace tag), the peer
 *    injects the original, as a client would.  Empty injects (libotr's "" for
 *    a FINISHED context) are not printed: a client sends nothing then.
 *  - `recv`: a return of 1 from otrl_message_receiving means an internal
 *    message (nothing delivered); otherwise the new message (or the original,
 *    if libotr left it alone) is printed as `deliver`.
 *  - As pidgin-otr does, the peer aborts SMP (otrl_message_abort_smp) after
 *    an OTRL_SMPEVENT_CHEATED or OTRL_SMPEVENT_ERROR event.
 *  - libotr 4.1.1 never calls the gone_insecure op (a received
 *    disconnect TLV only moves the context to FINISHED); use `status`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/context.h>
#include <libotr/instag.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/tlv.h>
#include <libotr/sm.h>

#define PROTOCOL "xmpp"
#define MAX_TOKENS 8
/* v3 fragment header is 37 bytes: the maximum message size must exceed it. */
#define MIN_MAXSIZE 48

/* ------------------------------------------------------------------ */
/* Message queue (bench mode: inject pushes onto the other side's queue) */

typedef struct {
    char **items;
    size_t head, len, cap;
} Queue;

static void queue_push(Queue *q, const char *msg)
{
    if (q->head + q->len == q->cap) {
        if (q->head > 0) {
            memmove(q->items, q->items + q->head, q->len * sizeof(char *));
            q->head = 0;
        }
        if (q->len == q->cap) {
            size_t ncap = q->cap ? q->cap * 2 : 16;
            char **n = realloc(q->items, ncap * sizeof(char *));
            if (!n) {
                fprintf(stderr, "otrpeer: out of memory\n");
                exit(2);
            }
            q->items = n;
            q->cap = ncap;
        }
    }
    char *copy = strdup(msg);
    if (!copy) {
        fprintf(stderr, "otrpeer: out of memory\n");
        exit(2);
    }
    q->items[q->head + q->len] = copy;
    q->len++;
}

/* Returns an owned string, or NULL when empty. */
static char *queue_pop(Queue *q)
{
    if (q->len == 0) return NULL;
    char *m = q->items[q->head];
    q->head++;
    q->len--;
    if (q->len == 0) q->head = 0;
    return m;
}

static void queue_clear(Queue *q)
{
    char *m;
    while ((m = queue_pop(q)) != NULL) free(m);
    free(q->items);
    q->items = NULL;
    q->cap = 0;
}

/* ------------------------------------------------------------------ */
/* One side: the opdata passed to every libotr call.                   */

typedef struct {
    OtrlUserState us;
    char *account;
    OtrlPolicy policy;
    int maxsize;
    int interactive;          /* print events / injects on stdout */
    Queue *out;               /* bench: injects go here */
    ConnContext *abort_ctx;   /* SMP to abort after the current libotr call */
    char *autokey;            /* path for create_privkey, or NULL */
    /* bench bookkeeping */
    int gone_secure;
    int smp_ask;
    ConnContext *smp_ctx;
    int smp_success;
    int smp_bad;
    long delivered;
    char *last_delivered;
} Side;

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */

static void out_raw(const char *s) { fputs(s, stdout); }

static void out_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static void out_hex(const unsigned char *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    if (len == 0) {
        putchar('-');
        return;
    }
    for (size_t i = 0; i < len; i++) {
        putchar(digits[buf[i] >> 4]);
        putchar(digits[buf[i] & 0xf]);
    }
}

static void out_end(void)
{
    putchar('\n');
    fflush(stdout);
}

static void reply_ok(void)
{
    out_raw("ok");
    out_end();
}

static void reply_err(const char *fmt, ...)
{
    va_list ap;
    out_raw("err ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    out_end();
}

static const char *contact_of(ConnContext *ctx)
{
    return (ctx && ctx->username) ? ctx->username : "-";
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode hex (or "-" for empty) into a fresh NUL-terminated buffer.
 * Returns NULL on malformed input. */
static unsigned char *hex_decode(const char *hex, size_t *lenp)
{
    size_t n = strlen(hex);
    if (strcmp(hex, "-") == 0) n = 0;
    if (n % 2 != 0) return NULL;
    unsigned char *buf = malloc(n / 2 + 1);
    if (!buf) return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval((unsigned char)hex[2 * i]);
        int lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return NULL;
        }
        buf[i] = (unsigned char)(hi << 4 | lo);
    }
    buf[n / 2] = '\0';
    *lenp = n / 2;
    return buf;
}

/* Decode hex that must become a C string (no embedded NUL). */
static char *hex_decode_str(const char *hex, const char **why)
{
    size_t len;
    unsigned char *buf = hex_decode(hex, &len);
    if (!buf) {
        *why = "bad hex";
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        free(buf);
        *why = "text contains a NUL byte";
        return NULL;
    }
    return (char *)buf;
}

/* ------------------------------------------------------------------ */
/* libotr callbacks                                                    */

static const char *smp_event_name(OtrlSMPEvent e)
{
    switch (e) {
    case OTRL_SMPEVENT_NONE: return "OTRL_SMPEVENT_NONE";
    case OTRL_SMPEVENT_ERROR: return "OTRL_SMPEVENT_ERROR";
    case OTRL_SMPEVENT_ABORT: return "OTRL_SMPEVENT_ABORT";
    case OTRL_SMPEVENT_CHEATED: return "OTRL_SMPEVENT_CHEATED";
    case OTRL_SMPEVENT_ASK_FOR_ANSWER: return "OTRL_SMPEVENT_ASK_FOR_ANSWER";
    case OTRL_SMPEVENT_ASK_FOR_SECRET: return "OTRL_SMPEVENT_ASK_FOR_SECRET";
    case OTRL_SMPEVENT_IN_PROGRESS: return "OTRL_SMPEVENT_IN_PROGRESS";
    case OTRL_SMPEVENT_SUCCESS: return "OTRL_SMPEVENT_SUCCESS";
    case OTRL_SMPEVENT_FAILURE: return "OTRL_SMPEVENT_FAILURE";
    }
    return "OTRL_SMPEVENT_UNKNOWN";
}

static const char *msg_event_name(OtrlMessageEvent e)
{
    switch (e) {
    case OTRL_MSGEVENT_NONE: return "OTRL_MSGEVENT_NONE";
    case OTRL_MSGEVENT_ENCRYPTION_REQUIRED: return "OTRL_MSGEVENT_ENCRYPTION_REQUIRED";
    case OTRL_MSGEVENT_ENCRYPTION_ERROR: return "OTRL_MSGEVENT_ENCRYPTION_ERROR";
    case OTRL_MSGEVENT_CONNECTION_ENDED: return "OTRL_MSGEVENT_CONNECTION_ENDED";
    case OTRL_MSGEVENT_SETUP_ERROR: return "OTRL_MSGEVENT_SETUP_ERROR";
    case OTRL_MSGEVENT_MSG_REFLECTED: return "OTRL_MSGEVENT_MSG_REFLECTED";
    case OTRL_MSGEVENT_MSG_RESENT: return "OTRL_MSGEVENT_MSG_RESENT";
    case OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE: return "OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE";
    case OTRL_MSGEVENT_RCVDMSG_UNREADABLE: return "OTRL_MSGEVENT_RCVDMSG_UNREADABLE";
    case OTRL_MSGEVENT_RCVDMSG_MALFORMED: return "OTRL_MSGEVENT_RCVDMSG_MALFORMED";
    case OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD: return "OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD";
    case OTRL_MSGEVENT_LOG_HEARTBEAT_SENT: return "OTRL_MSGEVENT_LOG_HEARTBEAT_SENT";
    case OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR: return "OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR";
    case OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED: return "OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED";
    case OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED: return "OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED";
    case OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE: return "OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE";
    }
    return "OTRL_MSGEVENT_UNKNOWN";
}

static const char *err_code_name(OtrlErrorCode c)
{
    switch (c) {
    case OTRL_ERRCODE_NONE: return "OTRL_ERRCODE_NONE";
    case OTRL_ERRCODE_ENCRYPTION_ERROR: return "OTRL_ERRCODE_ENCRYPTION_ERROR";
    case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE: return "OTRL_ERRCODE_MSG_NOT_IN_PRIVATE";
    case OTRL_ERRCODE_MSG_UNREADABLE: return "OTRL_ERRCODE_MSG_UNREADABLE";
    case OTRL_ERRCODE_MSG_MALFORMED: return "OTRL_ERRCODE_MSG_MALFORMED";
    }
    return "OTRL_ERRCODE_UNKNOWN";
}

static OtrlPolicy op_policy(void *opdata, ConnContext *context)
{
    (void)context;
    return ((Side *)opdata)->policy;
}

static void op_create_privkey(void *opdata, const char *accountname,
        const char *protocol)
{
    Side *s = opdata;
    if (!s->interactive) return;   /* bench sides always have keys */
    char tmpl[] = "/tmp/otrpeer-key-XXXXXX";
    const char *path = s->autokey;
    int fd = -1;
    if (!path) {
        fd = mkstemp(tmpl);
        if (fd < 0) {
            fprintf(stderr, "otrpeer: create_privkey: mkstemp: %s\n",
                    strerror(errno));
            return;
        }
        close(fd);
        path = tmpl;
    }
    fprintf(stderr, "otrpeer: create_privkey for %s/%s into %s\n",
            accountname, protocol, path);
    gcry_error_t err = otrl_privkey_generate(s->us, path, accountname, protocol);
    if (err) {
        fprintf(stderr, "otrpeer: create_privkey failed: %s\n",
                gcry_strerror(err));
    }
    if (fd >= 0) unlink(tmpl);
}

static int op_is_logged_in(void *opdata, const char *accountname,
        const char *protocol, const char *recipient)
{
    (void)opdata; (void)accountname; (void)protocol; (void)recipient;
    return 1;
}

static void op_inject_message(void *opdata, const char *accountname,
        const char *protocol, const char *recipient, const char *message)
{
    Side *s = opdata;
    (void)accountname; (void)protocol;
    if (!message || !*message) return;
    if (s->interactive) {
        out_fmt("inject %s ", recipient);
        out_hex((const unsigned char *)message, strlen(message));
        out_end();
    } else if (s->out) {
        queue_push(s->out, message);
    }
}

static void op_update_context_list(void *opdata) { (void)opdata; }

static void op_new_fingerprint(void *opdata, OtrlUserState us,
        const char *accountname, const char *protocol, const char *username,
        unsigned char fingerprint[20])
{
    Side *s = opdata;
    (void)us; (void)accountname; (void)protocol;
    if (!s->interactive) return;
    out_fmt("event new_fingerprint %s ", username);
    out_hex(fingerprint, 20);
    out_end();
}

static void op_write_fingerprints(void *opdata) { (void)opdata; }

static void op_gone_secure(void *opdata, ConnContext *context)
{
    Side *s = opdata;
    s->gone_secure++;
    if (!s->interactive) return;
    out_fmt("event gone_secure %s", contact_of(context));
    out_end();
}

static void op_gone_insecure(void *opdata, ConnContext *context)
{
    Side *s = opdata;
    if (!s->interactive) return;
    out_fmt("event gone_insecure %s", contact_of(context));
    out_end();
}

static void op_still_secure(void *opdata, ConnContext *context, int is_reply)
{
    Side *s = opdata;
    (void)is_reply;
    if (!s->interactive) return;
    out_fmt("event still_secure %s", contact_of(context));
    out_end();
}

static int op_max_message_size(void *opdata, ConnContext *context)
{
    (void)context;
    return ((Side *)opdata)->maxsize;
}

static const char *op_account_name(void *opdata, const char *account,
        const char *protocol)
{
    (void)opdata; (void)protocol;
    return strdup(account);
}

static void op_account_name_free(void *opdata, const char *account_name)
{
    (void)opdata;
    free((char *)account_name);
}

static void op_received_symkey(void *opdata, ConnContext *context,
        unsigned int use, const unsigned char *usedata, size_t usedatalen,
        const unsigned char *symkey)
{
    Side *s = opdata;
    if (!s->interactive) return;
    out_fmt("event symkey %s %u ", contact_of(context), use);
    out_hex(usedata, usedatalen);
    out_raw(" ");
    out_hex(symkey, OTRL_EXTRAKEY_BYTES);
    out_end();
}

static const char *op_otr_error_message(void *opdata, ConnContext *context,
        OtrlErrorCode err_code)
{
    Side *s = opdata;
    const char *text;
    switch (err_code) {
    case OTRL_ERRCODE_ENCRYPTION_ERROR:
        text = "Error occurred encrypting message.";
        break;
    case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE:
        text = "You sent encrypted data to a peer who wasn't expecting it.";
        break;
    case OTRL_ERRCODE_MSG_UNREADABLE:
        text = "You transmitted an unreadable encrypted message.";
        break;
    case OTRL_ERRCODE_MSG_MALFORMED:
        text = "You transmitted a malformed data message.";
        break;
    default:
        text = "Unknown error.";
        break;
    }
    if (s->interactive) {
        out_fmt("event error %s %s", contact_of(context),
                err_code_name(err_code));
        out_end();
    }
    return strdup(text);
}

static void op_otr_error_message_free(void *opdata, const char *err_msg)
{
    (void)opdata;
    free((char *)err_msg);
}

static const char *op_resent_msg_prefix(void *opdata, ConnContext *context)
{
    (void)opdata; (void)context;
    return strdup("[resent]");
}

static void op_resent_msg_prefix_free(void *opdata, const char *prefix)
{
    (void)opdata;
    free((char *)prefix);
}

static void op_handle_smp_event(void *opdata, OtrlSMPEvent smp_event,
        ConnContext *context, unsigned short progress_percent, char *question)
{
    Side *s = opdata;
    switch (smp_event) {
    case OTRL_SMPEVENT_ASK_FOR_SECRET:
    case OTRL_SMPEVENT_ASK_FOR_ANSWER:
        s->smp_ask = 1;
        s->smp_ctx = context;
        break;
    case OTRL_SMPEVENT_SUCCESS:
        s->smp_success++;
        break;
    case OTRL_SMPEVENT_CHEATED:
    case OTRL_SMPEVENT_ERROR:
        s->abort_ctx = context;
        s->smp_bad++;
        break;
    case OTRL_SMPEVENT_FAILURE:
    case OTRL_SMPEVENT_ABORT:
        s->smp_bad++;
        break;
    default:
        break;
    }
    if (!s->interactive) return;
    out_fmt("event smp %s %s %u", contact_of(context),
            smp_event_name(smp_event), (unsigned)progress_percent);
    if (question) {
        out_raw(" ");
        out_hex((const unsigned char *)question, strlen(question));
    }
    out_end();
}

static void op_handle_msg_event(void *opdata, OtrlMessageEvent msg_event,
        ConnContext *context, const char *message, gcry_error_t err)
{
    Side *s = opdata;
    if (!s->interactive) return;
    out_fmt("event msg_event %s %s", contact_of(context),
            msg_event_name(msg_event));
    if (message) {
        out_raw(" ");
        out_hex((const unsigned char *)message, strlen(message));
    } else if (err) {
        const char *t = gcry_strerror(err);
        out_raw(" ");
        out_hex((const unsigned char *)t, strlen(t));
    }
    out_end();
}

static FILE *devnull(void)
{
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    return f;
}

static void new_instag(Side *s, const char *accountname, const char *protocol)
{
    OtrlInsTag *old;
    while ((old = otrl_instag_find(s->us, accountname, protocol)) != NULL) {
        otrl_instag_forget(old);
    }
    FILE *f = devnull();
    if (!f) {
        fprintf(stderr, "otrpeer: cannot open /dev/null\n");
        exit(2);
    }
    otrl_instag_generate_FILEp(s->us, f, accountname, protocol);
    fflush(f);
}

static void op_create_instag(void *opdata, const char *accountname,
        const char *protocol)
{
    new_instag(opdata, accountname, protocol);
}

static void op_timer_control(void *opdata, unsigned int interval)
{
    Side *s = opdata;
    if (!s->interactive) return;
    out_fmt("event timer %u", interval);
    out_end();
}

static OtrlMessageAppOps ops = {
    .policy = op_policy,
    .create_privkey = op_create_privkey,
    .is_logged_in = op_is_logged_in,
    .inject_message = op_inject_message,
    .update_context_list = op_update_context_list,
    .new_fingerprint = op_new_fingerprint,
    .write_fingerprints = op_write_fingerprints,
    .gone_secure = op_gone_secure,
    .gone_insecure = op_gone_insecure,
    .still_secure = op_still_secure,
    .max_message_size = op_max_message_size,
    .account_name = op_account_name,
    .account_name_free = op_account_name_free,
    .received_symkey = op_received_symkey,
    .otr_error_message = op_otr_error_message,
    .otr_error_message_free = op_otr_error_message_free,
    .resent_msg_prefix = op_resent_msg_prefix,
    .resent_msg_prefix_free = op_resent_msg_prefix_free,
    .handle_smp_event = op_handle_smp_event,
    .handle_msg_event = op_handle_msg_event,
    .create_instag = op_create_instag,
    .convert_msg = NULL,
    .convert_free = NULL,
    .timer_control = op_timer_control,
};

/* After a libotr call: abort an SMP that went wrong (as pidgin-otr does). */
static void run_deferred(Side *s)
{
    ConnContext *ctx = s->abort_ctx;
    s->abort_ctx = NULL;
    if (ctx) otrl_message_abort_smp(s->us, &ops, s, ctx);
}

/* ------------------------------------------------------------------ */
/* Interactive state                                                   */

static Side g_side;
static char *g_key_path;        /* last key file loaded with loadkey/genkey */
static char *g_bench_key_path;  /* second key for the bench */

static ConnContext *best_context(Side *s, const char *contact)
{
    return otrl_context_find(s->us, contact, s->account, PROTOCOL,
            OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
}

static ConnContext *encrypted_context(Side *s, const char *contact)
{
    ConnContext *ctx = best_context(s, contact);
    if (!ctx || ctx->msgstate != OTRL_MSGSTATE_ENCRYPTED) return NULL;
    return ctx;
}

static void set_string(char **slot, const char *v)
{
    char *n = strdup(v);
    if (!n) {
        fprintf(stderr, "otrpeer: out of memory\n");
        exit(2);
    }
    free(*slot);
    *slot = n;
}

static int parse_uint(const char *s, int base, unsigned long max,
        unsigned long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    unsigned long v = strtoul(s, &end, base);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Bench: two userstates in one process, talking through queues.      */

typedef struct {
    Side a, b;
    Queue qa, qb;   /* qa: messages from a (to b); qb: from b (to a) */
    const unsigned char *smp_secret;
    size_t smp_secret_len;
} Bench;

static int bench_side_init(Side *s, const char *keypath, const char *want,
        Queue *out, const char **why)
{
    memset(s, 0, sizeof(*s));
    s->us = otrl_userstate_create();
    s->policy = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;
    s->maxsize = 0;
    s->interactive = 0;
    s->out = out;
    gcry_error_t err = otrl_privkey_read(s->us, keypath);
    if (err) {
        *why = gcry_strerror(err);
        return -1;
    }
    OtrlPrivKey *k = s->us->privkey_root, *pick = NULL;
    for (; k; k = k->next) {
        if (!pick) pick = k;
        if (want && strcmp(k->accountname, want) == 0) {
            pick = k;
            break;
        }
    }
    if (!pick) {
        *why = "key file holds no key";
        return -1;
    }
    s->account = strdup(pick->accountname);
    new_instag(s, s->account, PROTOCOL);
    return 0;
}

static void bench_side_free(Side *s)
{
    if (s->us) {
        otrl_context_forget_all(s->us);
        otrl_userstate_free(s->us);
    }
    free(s->account);
    free(s->last_delivered);
    s->us = NULL;
}

/* Receive one message on side `to` from side `from`. */
static void bench_receive(Bench *bn, Side *to, Side *from, char *msg)
{
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    int ignore = otrl_message_receiving(to->us, &ops, to, to->account,
            PROTOCOL, from->account, msg, &newmsg, &tlvs, NULL, NULL, NULL);
    if (!ignore) {
        to->delivered++;
        free(to->last_delivered);
        to->last_delivered = newmsg ? newmsg : strdup(msg);
        newmsg = NULL;
    }
    if (newmsg) otrl_message_free(newmsg);
    if (tlvs) otrl_tlv_free(tlvs);
    run_deferred(to);
    if (to->smp_ask && bn->smp_secret) {
        to->smp_ask = 0;
        otrl_message_respond_smp(to->us, &ops, to, to->smp_ctx,
                bn->smp_secret, bn->smp_secret_len);
    }
}

/* Deliver queued messages both ways until both queues are empty.
 * Returns -1 if the exchange does not settle. */
static int bench_pump(Bench *bn)
{
    for (int rounds = 0; rounds < 10000; rounds++) {
        char *m;
        if ((m = queue_pop(&bn->qa)) != NULL) {
            bench_receive(bn, &bn->b, &bn->a, m);
            free(m);
        } else if ((m = queue_pop(&bn->qb)) != NULL) {
            bench_receive(bn, &bn->a, &bn->b, m);
            free(m);
        } else {
            return 0;
        }
    }
    return -1;
}

static int bench_ake_once(Bench *bn)
{
    char *m = NULL;
    bn->a.gone_secure = bn->b.gone_secure = 0;
    gcry_error_t err = otrl_message_sending(bn->a.us, &ops, &bn->a,
            bn->a.account, PROTOCOL, bn->b.account, OTRL_INSTAG_BEST,
            "?OTR?", NULL, &m, OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
    if (m) otrl_message_free(m);
    if (err) return -1;
    if (bench_pump(bn)) return -1;
    return (bn->a.gone_secure == 1 && bn->b.gone_secure == 1) ? 0 : -1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cmd_bench(char **tok, int ntok)
{
    if (ntok >= 3 && strcmp(tok[1], "key") == 0) {
        FILE *f = fopen(tok[2], "r");
        if (!f) {
            reply_err("cannot open %s: %s", tok[2], strerror(errno));
            return;
        }
        fclose(f);
        set_string(&g_bench_key_path, tok[2]);
        reply_ok();
        return;
    }
    if (ntok < 3) {
        reply_err("usage: bench ake N | bench data N SIZE | bench smp N | bench key PATH");
        return;
    }
    const char *what = tok[1];
    unsigned long n, size = 0;
    if (parse_uint(tok[2], 10, 10000000, &n) || n == 0) {
        reply_err("bad count %s", tok[2]);
        return;
    }
    if (strcmp(what, "data") == 0) {
        if (ntok < 4 || parse_uint(tok[3], 10, 16 * 1024 * 1024, &size)
                || size == 0) {
            reply_err("usage: bench data N SIZE (SIZE 1..16777216)");
            return;
        }
    } else if (strcmp(what, "ake") != 0 && strcmp(what, "smp") != 0) {
        reply_err("unknown bench %s", what);
        return;
    }
    if (!g_key_path || !g_bench_key_path) {
        reply_err("bench needs a key loaded with loadkey and a second with bench key PATH");
        return;
    }

    Bench bn;
    memset(&bn, 0, sizeof(bn));
    const char *why = NULL;
    if (bench_side_init(&bn.a, g_key_path, g_side.account, &bn.qa, &why)
            || bench_side_init(&bn.b, g_bench_key_path, NULL, &bn.qb, &why)) {
        reply_err("bench setup: %s", why);
        bench_side_free(&bn.a);
        bench_side_free(&bn.b);
        return;
    }

    uint64_t elapsed = 0;
    const char *fail = NULL;
    if (strcmp(what, "ake") == 0) {
        uint64_t t0 = now_ns();
        for (unsigned long i = 0; i < n; i++) {
            if (bench_ake_once(&bn)) {
                fail = "AKE did not complete";
                break;
            }
            /* Fresh contexts for the next run, as after a client restart. */
            otrl_context_forget_all(bn.a.us);
            otrl_context_forget_all(bn.b.us);
        }
        elapsed = now_ns() - t0;
    } else if (strcmp(what, "data") == 0) {
        char *msg = malloc(size + 1);
        if (!msg) {
            fail = "out of memory";
        } else {
            for (unsigned long i = 0; i < size; i++) msg[i] = 'a' + (char)(i % 26);
            msg[size] = '\0';
        }
        if (!fail && bench_ake_once(&bn)) fail = "AKE did not complete";
        if (!fail) {
            uint64_t t0 = now_ns();
            for (unsigned long i = 0; i < n; i++) {
                char *m = NULL;
                long before = bn.b.delivered;
                gcry_error_t err = otrl_message_sending(bn.a.us, &ops, &bn.a,
                        bn.a.account, PROTOCOL, bn.b.account,
                        OTRL_INSTAG_BEST, msg, NULL, &m,
                        OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
                if (m) otrl_message_free(m);
                if (err || bench_pump(&bn) || bn.b.delivered != before + 1
                        || strcmp(bn.b.last_delivered, msg) != 0) {
                    fail = "data message not delivered intact";
                    break;
                }
            }
            elapsed = now_ns() - t0;
        }
        free(msg);
    } else { /* smp */
        static const unsigned char secret[] = "correct horse battery staple";
        bn.smp_secret = secret;
        bn.smp_secret_len = sizeof(secret) - 1;
        if (bench_ake_once(&bn)) fail = "AKE did not complete";
        if (!fail) {
            ConnContext *ctx = otrl_context_find(bn.a.us, bn.b.account,
                    bn.a.account, PROTOCOL, OTRL_INSTAG_BEST, 0, NULL, NULL,
                    NULL);
            uint64_t t0 = now_ns();
            for (unsigned long i = 0; i < n; i++) {
                bn.a.smp_success = bn.b.smp_success = 0;
                bn.a.smp_bad = bn.b.smp_bad = 0;
                otrl_message_initiate_smp(bn.a.us, &ops, &bn.a, ctx,
                        secret, sizeof(secret) - 1);
                if (bench_pump(&bn) || bn.a.smp_success != 1
                        || bn.b.smp_success != 1 || bn.a.smp_bad
                        || bn.b.smp_bad) {
                    fail = "SMP did not succeed on both sides";
                    break;
                }
            }
            elapsed = now_ns() - t0;
        }
    }
    queue_clear(&bn.qa);
    queue_clear(&bn.qb);
    bench_side_free(&bn.a);
    bench_side_free(&bn.b);
    if (fail) {
        reply_err("bench %s: %s", what, fail);
        return;
    }
    out_fmt("bench %s %lu %llu", what, n, (unsigned long long)elapsed);
    out_end();
    reply_ok();
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */

static const char *msgstate_name(OtrlMessageState st)
{
    switch (st) {
    case OTRL_MSGSTATE_PLAINTEXT: return "plaintext";
    case OTRL_MSGSTATE_ENCRYPTED: return "encrypted";
    case OTRL_MSGSTATE_FINISHED: return "finished";
    }
    return "unknown";
}

static const char *smp_state_name(ConnContext *ctx)
{
    if (!ctx || !ctx->smstate) return "none";
    switch (ctx->smstate->nextExpected) {
    case OTRL_SMP_EXPECT1: return "expect1";
    case OTRL_SMP_EXPECT2: return "expect2";
    case OTRL_SMP_EXPECT3: return "expect3";
    case OTRL_SMP_EXPECT4: return "expect4";
    case OTRL_SMP_EXPECT5: return "expect5";
    }
    return "unknown";
}

static void cmd_send(const char *contact, const char *text)
{
    char *newmsg = NULL;
    gcry_error_t err = otrl_message_sending(g_side.us, &ops, &g_side,
            g_side.account, PROTOCOL, contact, OTRL_INSTAG_BEST, text, NULL,
            &newmsg, OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
    if (err) {
        if (newmsg) otrl_message_free(newmsg);
        reply_err("otrl_message_sending: %s", gcry_strerror(err));
        return;
    }
    if (!newmsg) {
        /* libotr left the message alone: the client sends it as is. */
        op_inject_message(&g_side, g_side.account, PROTOCOL, contact, text);
    } else {
        otrl_message_free(newmsg);
    }
    reply_ok();
}

static void cmd_recv(const char *contact, const char *wire)
{
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    int ignore = otrl_message_receiving(g_side.us, &ops, &g_side,
            g_side.account, PROTOCOL, contact, wire, &newmsg, &tlvs, NULL,
            NULL, NULL);
    if (!ignore) {
        const char *d = newmsg ? newmsg : wire;
        out_fmt("deliver %s ", contact);
        out_hex((const unsigned char *)d, strlen(d));
        out_end();
    }
    if (newmsg) otrl_message_free(newmsg);
    if (tlvs) otrl_tlv_free(tlvs);
    run_deferred(&g_side);
    reply_ok();
}

static void cmd_status(const char *contact)
{
    ConnContext *ctx = best_context(&g_side, contact);
    if (!ctx) {
        ctx = otrl_context_find(g_side.us, contact, g_side.account, PROTOCOL,
                OTRL_INSTAG_MASTER, 0, NULL, NULL, NULL);
    }
    if (!ctx) {
        out_fmt("status msgstate=plaintext version=0 our_instag=00000000 "
                "their_instag=00000000 trusted=0 smp=none");
        out_end();
        reply_ok();
        return;
    }
    int trusted = ctx->active_fingerprint
        && otrl_context_is_fingerprint_trusted(ctx->active_fingerprint);
    out_fmt("status msgstate=%s version=%u our_instag=%08x their_instag=%08x "
            "trusted=%d smp=%s", msgstate_name(ctx->msgstate),
            ctx->protocol_version, ctx->our_instance, ctx->their_instance,
            trusted ? 1 : 0, smp_state_name(ctx));
    out_end();
    reply_ok();
}

static void handle_line(char *line)
{
    char *tok[MAX_TOKENS];
    int ntok = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t;
            t = strtok_r(NULL, " \t\r\n", &save)) {
        if (ntok == MAX_TOKENS) {
            reply_err("too many arguments");
            return;
        }
        tok[ntok++] = t;
    }
    if (ntok == 0) {
        reply_err("empty command");
        return;
    }
    const char *cmd = tok[0];
    const char *why = NULL;

#define NEED(n, usage) do { if (ntok < (n)) { reply_err("usage: %s", usage); return; } } while (0)

    if (strcmp(cmd, "account") == 0) {
        NEED(2, "account NAME");
        set_string(&g_side.account, tok[1]);
        reply_ok();
    } else if (strcmp(cmd, "loadkey") == 0) {
        NEED(2, "loadkey PATH");
        gcry_error_t err = otrl_privkey_read(g_side.us, tok[1]);
        if (err) {
            reply_err("otrl_privkey_read %s: %s", tok[1], gcry_strerror(err));
            return;
        }
        if (!otrl_privkey_find(g_side.us, g_side.account, PROTOCOL)) {
            fprintf(stderr, "otrpeer: warning: %s has no key for %s/%s\n",
                    tok[1], g_side.account, PROTOCOL);
        }
        set_string(&g_key_path, tok[1]);
        reply_ok();
    } else if (strcmp(cmd, "genkey") == 0) {
        NEED(2, "genkey PATH");
        gcry_error_t err = otrl_privkey_generate(g_side.us, tok[1],
                g_side.account, PROTOCOL);
        if (err) {
            reply_err("otrl_privkey_generate %s: %s", tok[1],
                    gcry_strerror(err));
            return;
        }
        set_string(&g_key_path, tok[1]);
        reply_ok();
    } else if (strcmp(cmd, "autokey") == 0) {
        NEED(2, "autokey PATH");
        set_string(&g_side.autokey, tok[1]);
        reply_ok();
    } else if (strcmp(cmd, "instag") == 0) {
        if (ntok >= 2) {
            if (strcmp(tok[1], "new") != 0) {
                reply_err("usage: instag [new]");
                return;
            }
            new_instag(&g_side, g_side.account, PROTOCOL);
            reply_ok();
            return;
        }
        OtrlInsTag *it = otrl_instag_find(g_side.us, g_side.account, PROTOCOL);
        if (!it) {
            new_instag(&g_side, g_side.account, PROTOCOL);
            it = otrl_instag_find(g_side.us, g_side.account, PROTOCOL);
        }
        if (!it) {
            reply_err("no instance tag");
            return;
        }
        out_fmt("instag %08x", it->instag);
        out_end();
        reply_ok();
    } else if (strcmp(cmd, "policy") == 0) {
        NEED(2, "policy HEXMASK");
        unsigned long v;
        if (parse_uint(tok[1], 16, 0x7f, &v)) {
            reply_err("bad policy %s", tok[1]);
            return;
        }
        g_side.policy = (OtrlPolicy)v;
        reply_ok();
    } else if (strcmp(cmd, "maxsize") == 0) {
        NEED(2, "maxsize N");
        unsigned long v;
        if (parse_uint(tok[1], 10, 1000000000, &v)
                || (v != 0 && v < MIN_MAXSIZE)) {
            reply_err("bad maxsize %s (0 or at least %d)", tok[1], MIN_MAXSIZE);
            return;
        }
        g_side.maxsize = (int)v;
        reply_ok();
    } else if (strcmp(cmd, "send") == 0) {
        NEED(2, "send CONTACT HEX");
        char *text = hex_decode_str(ntok >= 3 ? tok[2] : "-", &why);
        if (!text) {
            reply_err("send: %s", why);
            return;
        }
        cmd_send(tok[1], text);
        free(text);
    } else if (strcmp(cmd, "recv") == 0) {
        NEED(2, "recv CONTACT HEX");
        char *wire = hex_decode_str(ntok >= 3 ? tok[2] : "-", &why);
        if (!wire) {
            reply_err("recv: %s", why);
            return;
        }
        cmd_recv(tok[1], wire);
        free(wire);
    } else if (strcmp(cmd, "query") == 0) {
        NEED(2, "query CONTACT");
        if ((g_side.policy & OTRL_POLICY_VERSION_MASK) == 0) {
            reply_err("policy allows no OTR version");
            return;
        }
        /* otrl_message_sending replaces "?OTR?" with
         * otrl_proto_default_query_msg(account, policy) and injects it. */
        cmd_send(tok[1], "?OTR?");
    } else if (strcmp(cmd, "finish") == 0) {
        NEED(2, "finish CONTACT");
        otrl_message_disconnect_all_instances(g_side.us, &ops, &g_side,
                g_side.account, PROTOCOL, tok[1]);
        reply_ok();
    } else if (strcmp(cmd, "smp_start") == 0 || strcmp(cmd, "smp_respond") == 0) {
        int start = strcmp(cmd, "smp_start") == 0;
        NEED(3, start ? "smp_start CONTACT SECRETHEX [QUESTIONHEX]"
                : "smp_respond CONTACT SECRETHEX");
        ConnContext *ctx = encrypted_context(&g_side, tok[1]);
        if (!ctx) {
            reply_err("%s: no encrypted session with %s", cmd, tok[1]);
            return;
        }
        size_t slen;
        unsigned char *secret = hex_decode(tok[2], &slen);
        if (!secret) {
            reply_err("%s: bad secret hex", cmd);
            return;
        }
        if (start && ntok >= 4) {
            char *q = hex_decode_str(tok[3], &why);
            if (!q) {
                free(secret);
                reply_err("smp_start: question: %s", why);
                return;
            }
            otrl_message_initiate_smp_q(g_side.us, &ops, &g_side, ctx, q,
                    secret, slen);
            free(q);
        } else if (start) {
            otrl_message_initiate_smp(g_side.us, &ops, &g_side, ctx, secret,
                    slen);
        } else {
            otrl_message_respond_smp(g_side.us, &ops, &g_side, ctx, secret,
                    slen);
        }
        free(secret);
        reply_ok();
    } else if (strcmp(cmd, "smp_abort") == 0) {
        NEED(2, "smp_abort CONTACT");
        ConnContext *ctx = encrypted_context(&g_side, tok[1]);
        if (!ctx) {
            reply_err("smp_abort: no encrypted session with %s", tok[1]);
            return;
        }
        otrl_message_abort_smp(g_side.us, &ops, &g_side, ctx);
        reply_ok();
    } else if (strcmp(cmd, "symkey") == 0) {
        NEED(3, "symkey CONTACT USE USEDATAHEX");
        unsigned long use;
        if (parse_uint(tok[2], 0, 0xffffffffUL, &use)) {
            reply_err("symkey: bad USE %s", tok[2]);
            return;
        }
        size_t ulen;
        unsigned char *usedata = hex_decode(ntok >= 4 ? tok[3] : "-", &ulen);
        if (!usedata) {
            reply_err("symkey: bad usedata hex");
            return;
        }
        ConnContext *ctx = encrypted_context(&g_side, tok[1]);
        if (!ctx) {
            free(usedata);
            reply_err("symkey: no encrypted session with %s", tok[1]);
            return;
        }
        unsigned char key[OTRL_EXTRAKEY_BYTES];
        gcry_error_t err = otrl_message_symkey(g_side.us, &ops, &g_side, ctx,
                (unsigned int)use, usedata, ulen, key);
        free(usedata);
        if (err) {
            reply_err("otrl_message_symkey: %s", gcry_strerror(err));
            return;
        }
        out_raw("symkey ");
        out_hex(key, sizeof(key));
        out_end();
        reply_ok();
    } else if (strcmp(cmd, "trust") == 0) {
        NEED(2, "trust CONTACT");
        ConnContext *ctx = best_context(&g_side, tok[1]);
        if (!ctx || !ctx->active_fingerprint) {
            reply_err("trust: no active fingerprint for %s", tok[1]);
            return;
        }
        otrl_context_set_trust(ctx->active_fingerprint, "verified");
        reply_ok();
    } else if (strcmp(cmd, "status") == 0) {
        NEED(2, "status CONTACT");
        cmd_status(tok[1]);
    } else if (strcmp(cmd, "fingerprint") == 0) {
        unsigned char fp[20];
        if (!otrl_privkey_fingerprint_raw(g_side.us, fp, g_side.account,
                    PROTOCOL)) {
            reply_err("no private key for %s", g_side.account);
            return;
        }
        out_raw("fingerprint ");
        out_hex(fp, sizeof(fp));
        out_end();
        reply_ok();
    } else if (strcmp(cmd, "poll") == 0) {
        otrl_message_poll(g_side.us, &ops, &g_side);
        reply_ok();
    } else if (strcmp(cmd, "forget") == 0) {
        otrl_context_forget_all(g_side.us);
        new_instag(&g_side, g_side.account, PROTOCOL);
        reply_ok();
    } else if (strcmp(cmd, "bench") == 0) {
        cmd_bench(tok, ntok);
    } else if (strcmp(cmd, "version") == 0) {
        out_fmt("version %s", otrl_version());
        out_end();
        reply_ok();
    } else if (strcmp(cmd, "quit") == 0) {
        reply_ok();
        exit(0);
    } else {
        reply_err("unknown command %s", cmd);
    }
#undef NEED
}

int main(void)
{
    OTRL_INIT;
    memset(&g_side, 0, sizeof(g_side));
    g_side.us = otrl_userstate_create();
    g_side.account = strdup("peer@test");
    g_side.policy = OTRL_POLICY_DEFAULT;
    g_side.maxsize = 0;
    g_side.interactive = 1;

    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        handle_line(line);
    }
    free(line);
    otrl_context_forget_all(g_side.us);
    otrl_userstate_free(g_side.us);
    return 0;
}
