// Drives headless Chromium (DevTools protocol over --remote-debugging-pipe) through the LTI
// pages inside an iframe of a pretend LMS on another site, saving a screenshot per page and
// checking each with axe-core (tests/browser; WCAG 2.1 A/AA and best practices).
// Usage: node lti_browser.js TOOL_BASE SIGNED_BODY OUT_DIR USER_DATA_DIR [INSTRUCTOR_BODY]
// Prints "CODE?" when it needs the completion code and reads it from stdin; prints
// "AXE <shot> <rule> <impact> <help> <targets>" per violation, and fails on a serious or
// critical one.
'use strict';
const { spawn } = require('child_process');
const http = require('http');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const [toolBase, body, outDir, userDataDir, instructorBody] = process.argv.slice(2);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js', { paths: [path.join(__dirname, 'browser')] }), 'utf8');
const serious = [];
const deadline = Date.now() + 100000;
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fail = (msg) => { console.error('FAIL: ' + msg); cleanup(); process.exit(1); };

const lmsPage = `<!doctype html><html><head><title>Pretend LMS</title></head>
<body style="font-family:sans-serif;background:#eef"><h1>Pretend LMS: Course 1, OTR exercise</h1>
<iframe name="tool" src="/launch_form" style="width:780px;height:640px;border:2px solid #446;background:#fff"></iframe>
</body></html>`;
const formOf = (signed) => `<!doctype html><html><body><form id="f" method="post" action="${esc(toolBase)}/launch">
${[...new URLSearchParams(signed)].map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('\n')}
</form><script>document.getElementById('f').submit();</script></body></html>`;
const formPage = formOf(body);

const lms = http.createServer((req, res) => {
  let page = lmsPage;
  if (req.url === '/launch_form') page = formPage;
  if (req.url === '/instructor') page = lmsPage.replace('/launch_form', '/instructor_form');
  if (req.url === '/instructor_form') page = formOf(instructorBody);
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(page);
});

let chrome;
function cleanup() {
  try { if (chrome) chrome.kill('SIGKILL'); } catch (e) { /* already gone */ }
  try { lms.close(); } catch (e) { /* not listening */ }
}

lms.listen(0, 'localhost', async () => {
  const lmsUrl = `http://localhost:${lms.address().port}/`;
  chrome = spawn('/usr/bin/chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${userDataDir}`, '--remote-debugging-pipe',
    // Keep the cross-site iframe in the page's process, so one session reaches it.
    '--disable-features=IsolateOrigins,site-per-process', '--disable-site-isolation-trials',
    '--window-size=1000,720', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  chrome.on('exit', (code) => { if (code !== null && code !== 0) console.error('chromium exited', code); });
  const toChrome = chrome.stdio[3];
  const fromChrome = chrome.stdio[4];
  let nextId = 1;
  const waiting = new Map();
  let buf = Buffer.alloc(0);
  fromChrome.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    let i;
    while ((i = buf.indexOf(0)) >= 0) {
      const msg = JSON.parse(buf.slice(0, i).toString('utf8'));
      buf = buf.slice(i + 1);
      if (msg.id && waiting.has(msg.id)) {
        const { resolve, reject } = waiting.get(msg.id);
        waiting.delete(msg.id);
        if (msg.error) reject(new Error(JSON.stringify(msg.error))); else resolve(msg.result);
      }
    }
  });
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    toChrome.write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const lines = readline.createInterface({ input: process.stdin });
  const nextLine = () => new Promise((r) => lines.once('line', r));

  try {
    const { targetInfos } = await send('Target.getTargets');
    const page = targetInfos.find((t) => t.type === 'page');
    if (!page) fail('no page target');
    const { sessionId: s } = await send('Target.attachToTarget', { targetId: page.targetId, flatten: true });
    await send('Page.enable', {}, s);
    await send('Page.navigate', { url: lmsUrl }, s);

    const toolFrame = async () => {
      const { frameTree } = await send('Page.getFrameTree', {}, s);
      const kids = frameTree.childFrames || [];
      return kids.map((k) => k.frame).find((f) => f.url.startsWith(toolBase));
    };
    const inFrame = async (frameId, expression) => {
      const { executionContextId } = await send('Page.createIsolatedWorld', { frameId, worldName: 'walk' }, s);
      const r = await send('Runtime.evaluate', { expression, contextId: executionContextId, returnByValue: true }, s);
      if (r.exceptionDetails) throw new Error('evaluate: ' + JSON.stringify(r.exceptionDetails));
      return r.result.value;
    };
    // Waits until the tool frame shows `pathname` and has loaded; returns its frame id.
    const waitFor = async (pathname, marker) => {
      while (Date.now() < deadline) {
        const f = await toolFrame();
        if (f && new URL(f.url).pathname === pathname) {
          const ok = await inFrame(f.id, `document.readyState === 'complete' && !!document.querySelector(${JSON.stringify(marker)})`).catch(() => false);
          if (ok) return f.id;
        }
        await sleep(100);
      }
      const { frameTree } = await send('Page.getFrameTree', {}, s);
      console.error('frames: ' + JSON.stringify(frameTree).slice(0, 2000));
      const f = await toolFrame();
      let text = '';
      if (f) text = await inFrame(f.id, 'document.body ? document.body.innerText : ""').catch(() => '');
      fail(`timed out waiting for ${pathname} (${marker}); frame at ${f && f.url}: ${text}`);
    };
    // axe-core on the tool frame's document; serious and critical findings fail the walk.
    const audit = async (frameId, name) => {
      // In the LMS's 780 px iframe and on a 320 px phone: nothing wider than the frame, and
      // axe-core's findings at each width.
      for (const width of [320, 780]) {
        await send('Runtime.evaluate', { expression: `document.querySelector('iframe').style.width = '${width}px'` }, s);
        await sleep(150);
        const wide = await inFrame(frameId, 'document.documentElement.scrollWidth - document.documentElement.clientWidth');
        if (wide > 0) serious.push(`${name}: ${wide} px too wide at ${width} px`);
        console.log(`WIDTH ${name} ${width} ${wide}`);
        const { executionContextId } = await send('Page.createIsolatedWorld', { frameId, worldName: 'axe' }, s);
        const expression = `${axeSource}
          ;axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] })
            .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
              targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))`;
        const r = await send('Runtime.evaluate', { expression, contextId: executionContextId, returnByValue: true, awaitPromise: true }, s);
        if (r.exceptionDetails) throw new Error('axe: ' + JSON.stringify(r.exceptionDetails).slice(0, 500));
        for (const v of r.result.value) {
          console.log(`AXE ${name} ${width} ${v.id} ${v.impact} ${v.help} ${JSON.stringify(v.targets)}`);
          if (v.impact === 'serious' || v.impact === 'critical') serious.push(`${name} at ${width} px: ${v.id}`);
        }
      }
      console.log(`AUDITED ${name}`);
    };
    const shot = async (name, frameId) => {
      const { data } = await send('Page.captureScreenshot', { format: 'png' }, s);
      fs.writeFileSync(path.join(outDir, name), Buffer.from(data, 'base64'));
      console.log('SHOT ' + name);
      if (frameId) await audit(frameId, name);
    };
    const fill = (frameId, sel, value) => inFrame(frameId,
      `(() => { const e = document.querySelector(${JSON.stringify(sel)}); e.value = ${JSON.stringify(value)}; e.form.querySelector('button').click(); return true; })()`);

    let f = await waitFor('/jid', '#jid');
    await shot('1-welcome-jid.png', f);
    await fill(f, '#jid', 'learner@example.org');

    f = await waitFor('/added', '#bot-jid');
    const botJid = await inFrame(f, `document.querySelector('#bot-jid').textContent`);
    const fpr = await inFrame(f, `(document.querySelector('#fingerprint') || {}).textContent || ''`);
    console.log('BOT ' + botJid);
    console.log('FINGERPRINT ' + fpr);
    await shot('2-jid-entered.png', f);
    await inFrame(f, `document.querySelector('#next').click()`);

    f = await waitFor('/secret', '#secret');
    await fill(f, '#secret', '1234');
    f = await waitFor('/secret', '#error');
    console.log('WEAK ' + await inFrame(f, `document.querySelector('#error').textContent`));
    await shot('3-weak-secret.png', f);
    await fill(f, '#secret', 'purple otters sing at noon');

    f = await waitFor('/code', '#code');
    await shot('4-code.png', f);
    console.log('CODE?');
    const code = await nextLine();
    await fill(f, '#code', 'WRONG-CODE');
    f = await waitFor('/code', '#error');
    await shot('5-wrong-code.png', f);
    await fill(f, '#code', code.trim());

    f = await waitFor('/done', '#done');
    const back = await inFrame(f, `document.querySelector('#return').href`);
    console.log('RETURN ' + back);
    await shot('6-done.png', f);
    if (instructorBody) {
      await send('Page.navigate', { url: lmsUrl + 'instructor' }, s);
      f = await waitFor('/instructor', '#learners');
      await shot('7-instructor.png', f);
      await inFrame(f, `document.querySelector('a.reset').click()`);
      f = await waitFor('/instructor/reset', '#reset');
      await shot('8-reset-confirm.png', f);
      await inFrame(f, `document.querySelector('#reset').click()`);
      f = await waitFor('/instructor', '#reset-done');
      await shot('9-reset-done.png', f);
      await inFrame(f, `location.href = ${JSON.stringify(toolBase + '/instructor/reset?jid=nobody%40example.org')}`);
      f = await waitFor('/instructor/reset', '#error-message');
      await shot('10-error.png', f);
    }
    if (serious.length) fail('serious accessibility findings: ' + serious.join(', '));
    console.log('OK');
    cleanup();
    process.exit(0);
  } catch (e) {
    fail(e.stack || String(e));
  }
});
setTimeout(() => fail('overall timeout'), 110000).unref();
