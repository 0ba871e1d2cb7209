// An otr.js (npm otr 0.2.16, unpatched) OTR user for tests/otrjs_interop.rs, one per process.
// Commands on stdin, one per line: `query`, `recv <base64 wire>`, `send <base64 text>`,
// `secret <base64>`. Everything otr.js does comes out on stdout as it happens:
// `io <base64 wire>` (to send to the bot), `ui <base64 text> <0|1 encrypted>`,
// `status <n>` (2: AKE succeeded), `error <base64> <severity>`, `smp <event> [...]`,
// `debug <base64>` (otr.js's debug log); `ready` once the DSA key is made. otr.js runs with its
// `debug` option, so its errors name their cause (to the bot too) instead of 'An OTR error has
// occurred.'
'use strict'
const { DSA, OTR } = require('otr')
const readline = require('readline')

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64')
const unb64 = (s) => Buffer.from(s || '', 'base64').toString('utf8')
// Returns nothing, and so do the listeners below: otr.js's EventEmitter (vendor/eventemitter.js,
// emitEvent) removes a listener that returns true, and stdout.write returns true.
const out = (line) => {
  process.stdout.write(line + '\n')
}

// otr.js's debug log goes to console.log: onto the protocol, not loose on stdout.
console.log = (...args) => { out('debug ' + b64(args.join(' '))) }

const otr = new OTR({ priv: new DSA(), debug: true })
otr.on('io', (msg) => { out('io ' + b64(msg)) })
otr.on('ui', (msg, encrypted) => { out('ui ' + b64(msg) + ' ' + (encrypted ? 1 : 0)) })
otr.on('status', (s) => { out('status ' + s) })
otr.on('error', (err, severity) => { out('error ' + b64(String(err)) + ' ' + (severity || 'error')) })
otr.on('smp', (ev, a) => { out('smp ' + ev + ' ' + String(a)) })
out('ready')

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, arg] = line.trim().split(' ')
  try {
    switch (cmd) {
      case 'query': otr.sendQueryMsg(); break
      case 'recv': otr.receiveMsg(unb64(arg)); break
      case 'send': otr.sendMsg(unb64(arg)); break
      case 'secret': otr.smpSecret(unb64(arg)); break
      default: out('error ' + b64('unknown command ' + cmd))
    }
  } catch (e) {
    // otr.js throws on some bad input instead of reporting it: the learner sees an error.
    out('error ' + b64('thrown: ' + e))
  }
})
