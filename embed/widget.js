/*! ChatConnect embed loader. No dependencies; safe to load more than once.
 *
 * Snippet (bubble, bottom-right by default):
 *   <script src="https://APP/embed/widget.js" data-widget-id="WIDGET_ID" async></script>
 * Optional attributes:
 *   data-position="left|right"   data-color="#rrggbb"   (used only when the widget's config
 *                                 cannot be fetched; the saved look otherwise wins)
 *   data-mode="inline" data-target="#css-selector"   fill that element instead of a bubble
 *                                 (the element needs a height; the iframe is 100% x 100%)
 *
 * Before drawing anything the loader fetches APP/embed/WIDGET_ID/config.json?origin=<this
 * page's origin> (public, CORS, cached for a minute by the browser):
 *   {allowed: true, title, color, position, avatar_url}   draw the bubble in that look
 *   {allowed: false}  /  404                              draw nothing; one console warning
 * If the config cannot be fetched (network error, timeout) the bubble is drawn with the
 * snippet's look: the chat page's own frame-ancestors header still decides who may frame it.
 *
 * The chat itself is the page APP/embed/WIDGET_ID?host=<host page URL>&mode=bubble|inline,
 * created on first open (bubble) or when scrolled near (inline, loading="lazy").
 *
 * "Open" is remembered per browser tab (sessionStorage) for OPEN_MEMORY_MS after the last
 * activity (opening, an answer arriving), so a reload or the next page shortly after keeps
 * the conversation on screen while later pages start closed. Never restored open on a
 * phone-sized screen, where the panel covers the whole page.
 *
 * postMessage protocol. Every message is a plain object with a string `type`.
 * The loader accepts a message only if event.origin === APP origin (taken from this
 * script's src) AND event.source === the iframe's contentWindow; it posts to the iframe
 * with targetOrigin = APP origin, never "*". The iframe page should likewise post to the
 * origin of its `host` query parameter and check event.origin against it.
 *
 *   iframe -> loader
 *     {type:"chatconnect:ready"}                     listening; loader answers with
 *                                                    chatconnect:host and the open state
 *     {type:"chatconnect:config", position?, color?, title?}
 *                                                    saved look: "left"|"right", "#rgb"/"#rrggbb",
 *                                                    panel/iframe accessible name
 *     {type:"chatconnect:message", role:"assistant"} shows the unread dot if the panel is closed
 *     {type:"chatconnect:close"}                     closes the panel. Post it from the page's
 *                                                    close button AND on Escape: key presses
 *                                                    inside the iframe never reach the loader.
 *   loader -> iframe
 *     {type:"chatconnect:host", url}                 the host page's location.href; sent on
 *                                                    iframe load, on ready and on every open
 *                                                    (single-page apps change the URL)
 *     {type:"chatconnect:open"}                      panel shown (a good moment to focus the input);
 *                                                    also the answer to ready if open (inline: always)
 *     {type:"chatconnect:closed"}                    panel hidden (or the answer to ready if closed)
 *
 * Host page API: window.ChatConnect.open(id?), .close(id?), .toggle(id?) act on the bubble
 * widget `id` (default: the first one); .scan() picks up snippet tags added later. An open()
 * made while the widget's config is still loading takes effect when the bubble appears.
 *
 * Isolation: all DOM lives in an *open* shadow root on one <chatconnect-widget> element.
 * Open, not closed: closed mode is no security boundary (the host page runs in the same
 * realm and could patch attachShadow first), while the conversation is already isolated by
 * the cross-origin iframe. Open keeps the widget inspectable by devtools and test tools.
 * `:host { all: initial !important }` resets everything the page's CSS could set on the host
 * element (!important declarations from inside a shadow tree beat the page's own), and the
 * host is appended to <html>, not <body>, so a transformed body cannot re-anchor it.
 */
(() => {
  'use strict';

  const SCRIPT_SELECTOR = 'script[src*="/embed/widget.js"][data-widget-id]';
  const COLOR_RE = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
  const PREFIX = 'chatconnect:';
  const OPEN_MEMORY_MS = 2 * 60 * 1000;
  const CONFIG_TIMEOUT_MS = 5000;
  const PHONE = '(max-width: 480px)'; // where the open panel is full screen (see CSS)

  // Never let an error escape into the host page (or its error tracker).
  const safe = (fn) => (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      try { console.warn('[ChatConnect]', err); } catch (ignored) { /* no console */ }
    }
  };

  const existing = window.ChatConnect;
  if (existing && existing.__chatconnect) {
    // Loaded twice: the first copy owns the registry; let it pick up any new tags.
    safe(existing.scan)();
    return;
  }

  const widgets = new Map(); // bubble widgets by widget id: one bubble per id per page
  const claimed = new Set(); // bubble ids set up on this page (config may still be on its way)
  const inlineTargets = new WeakSet();

  // Storage may be blocked (privacy settings, sandboxed frames): fail soft.
  const load = (key) => {
    try { return JSON.parse(sessionStorage.getItem(key)) || {}; } catch (err) { return {}; }
  };
  const save = (key, value) => {
    try { sessionStorage.setItem(key, JSON.stringify(value)); } catch (err) { /* unavailable */ }
  };
  const isPhone = () => !!(window.matchMedia && window.matchMedia(PHONE).matches);

  const warn = (...args) => { try { console.warn('[ChatConnect]', ...args); } catch (err) { /* none */ } };

  // White icon unless it would fall under 3:1 contrast (WCAG, graphics): then a dark one.
  const inkOn = (hex) => {
    const h = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, '$&$&') : hex;
    const lum = [1, 3, 5].reduce((sum, i, k) => {
      const c = parseInt(h.substr(i, 2), 16) / 255;
      return sum + [0.2126, 0.7152, 0.0722][k] * (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    }, 0);
    return lum > 0.3 ? '#111827' : '#fff';
  };

  const svg = (cls, body) =>
    `<svg class="${cls}" viewBox="0 0 24 24" aria-hidden="true" focusable="false">${body}</svg>`;
  const ICON_CHAT = svg('c', '<path fill="currentColor" d="M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z"/>');
  const ICON_X = (cls) => svg(cls, '<path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" fill="none"/>');

  const CSS = `
:host { all: initial !important; display: block !important; position: fixed !important;
  top: 0 !important; left: 0 !important; width: 0 !important; height: 0 !important;
  overflow: visible !important; z-index: 2147483647 !important; visibility: visible !important;
  opacity: 1 !important; transform: none !important; pointer-events: none !important; }
:host([data-mode=inline]) { position: relative !important; width: 100% !important;
  height: 100% !important; pointer-events: auto !important; z-index: auto !important; }
* { box-sizing: border-box; }
.root { --cc-color: #2563eb; --cc-ink: #fff; direction: ltr;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.bubble, .panel { position: fixed; pointer-events: auto; bottom: 20px; right: 20px; }
.left .bubble, .left .panel { right: auto; left: 20px; }
.bubble { width: 56px; height: 56px; margin: 0; padding: 0; border: 0; border-radius: 50%;
  display: flex; align-items: center; justify-content: center; cursor: pointer;
  background: var(--cc-color); color: var(--cc-ink); transition: transform .15s ease;
  box-shadow: 0 6px 20px rgba(0,0,0,.22), 0 2px 6px rgba(0,0,0,.12); }
.bubble:hover { transform: scale(1.06); }
.bubble:focus-visible { outline: 3px solid var(--cc-color); outline-offset: 3px; }
.bubble svg { width: 28px; height: 28px; }
.bubble .av { width: 100%; height: 100%; border-radius: 50%; object-fit: cover; display: block; }
.bubble .x, .open .bubble .c, .open .bubble .av, .has-avatar .bubble .c { display: none; }
.open .bubble .x { display: block; }
.dot { display: none; position: absolute; top: 2px; right: 2px; width: 14px; height: 14px;
  border-radius: 50%; background: #ef4444; border: 2px solid #fff; }
.unread .dot { display: block; }
.panel { bottom: 88px; width: 380px; max-width: calc(100vw - 40px); height: 600px;
  max-height: calc(100vh - 108px); border-radius: 16px; overflow: hidden; background: #fff;
  box-shadow: 0 12px 48px rgba(0,0,0,.25); opacity: 0; visibility: hidden;
  transform: translateY(12px) scale(.98); transform-origin: bottom right;
  transition: opacity .2s ease, transform .2s ease, visibility 0s linear .2s; }
.left .panel { transform-origin: bottom left; }
.open .panel { opacity: 1; visibility: visible; transform: none; transition-delay: 0s; }
iframe { display: block; position: relative; width: 100%; height: 100%; border: 0; margin: 0;
  padding: 0; background: transparent; }
.spin { position: absolute; top: 50%; left: 50%; width: 28px; height: 28px; margin: -14px;
  border-radius: 50%; border: 3px solid rgba(0,0,0,.12); border-top-color: var(--cc-color);
  animation: cc-spin .8s linear infinite; }
.loaded .spin { display: none; }
@keyframes cc-spin { to { transform: rotate(1turn); } }
/* Shown until the frame posts "ready" (it speaks the protocol, so it has its own close). */
.fallback-close { position: absolute; top: 8px; right: 8px; z-index: 1; width: 36px; height: 36px;
  padding: 6px; border: 0; border-radius: 50%; background: rgba(0,0,0,.06); color: #111827;
  cursor: pointer; }
.fallback-close svg { width: 24px; height: 24px; }
.ready .fallback-close { display: none; }
.mode-inline { position: relative; width: 100%; height: 100%; }
@media (max-width: 480px) {
  .open .panel { top: 0; right: 0; bottom: 0; left: 0; width: 100%; height: 100%;
    max-width: none; max-height: none; border-radius: 0; }
  .open .bubble { visibility: hidden; }
}
@media (prefers-reduced-motion: reduce) {
  .panel, .bubble { transition: none; }
  .spin { animation: none; }
}
@media print { :host { display: none !important; } }`;

  const cleanTitle = (title) => (typeof title === 'string' && title.trim().slice(0, 80)) || '';

  const chatUrl = ({ origin, id, mode }) =>
    `${origin}/embed/${encodeURIComponent(id)}?host=${encodeURIComponent(location.href)}&mode=${mode}`;

  function makeHost(cfg) {
    const host = document.createElement('chatconnect-widget');
    host.setAttribute('data-widget-id', cfg.id);
    host.setAttribute('data-mode', cfg.mode);
    const shadow = host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = CSS;
    const root = document.createElement('div');
    root.className = `root mode-${cfg.mode}`;
    shadow.append(style, root);
    return { host, shadow, root };
  }

  function makeIframe(cfg, title) {
    const iframe = document.createElement('iframe');
    iframe.title = title;
    iframe.src = chatUrl(cfg);
    iframe.setAttribute('allow', 'clipboard-write');
    return iframe;
  }

  function post(w, type, extra) {
    const win = w.iframe && w.iframe.contentWindow;
    // Before its first load the frame is about:blank (the host's origin): posting would only
    // log a targetOrigin error in the host page's console. `ready` resends the state anyway.
    if (!win || !w.loaded) return;
    win.postMessage({ type: PREFIX + type, ...extra }, w.cfg.origin); // dropped if the frame left ORIGIN
  }

  const sendHost = (w) => post(w, 'host', { url: location.href });

  function listen(w, handlers) {
    window.addEventListener('message', safe((event) => {
      if (!w.iframe || event.source !== w.iframe.contentWindow) return;
      if (event.origin !== w.cfg.origin) return;
      const data = event.data;
      if (!data || typeof data.type !== 'string' || !data.type.startsWith(PREFIX)) return;
      w.loaded = true; // a message from the frame means its page is up
      const name = data.type.slice(PREFIX.length);
      if (Object.prototype.hasOwnProperty.call(handlers, name)) handlers[name](data);
    }));
  }

  function watchLoad(w, onLoad) {
    w.iframe.addEventListener('load', safe(() => {
      w.loaded = true;
      if (onLoad) onLoad();
      sendHost(w);
    }));
  }

  /* ---------- bubble mode ---------- */

  function createBubble(cfg, conf) {
    const key = PREFIX + cfg.id;
    const saved = load(key); // { open, at }: this tab's last open state and when it was set
    try { localStorage.removeItem(key); } catch (err) { /* older loaders kept it there */ }
    const { host, shadow, root } = makeHost(cfg);
    root.innerHTML = `
      <button type="button" class="bubble" aria-expanded="false" aria-controls="panel"
        aria-label="Open chat">${ICON_CHAT}${ICON_X('x')}<span class="dot"></span></button>
      <span id="unread" hidden>New message</span>
      <div class="panel" id="panel" role="dialog">
        <div class="spin"></div>
        <button type="button" class="fallback-close" aria-label="Close chat">${ICON_X('')}</button>
      </div>`;
    const bubble = root.querySelector('.bubble');
    const panel = root.querySelector('.panel');
    const w = { cfg, iframe: null, loaded: false, isOpen: false, look: lookFrom(conf) };

    // Precedence: snippet attributes < the widget's config (fetched, then live from the frame).
    function applyLook() {
      const look = { position: cfg.position, color: cfg.color, ...w.look };
      root.classList.toggle('left', look.position === 'left');
      const color = [w.look.color, cfg.color].find((c) => typeof c === 'string' && COLOR_RE.test(c));
      if (color) {
        root.style.setProperty('--cc-color', color);
        root.style.setProperty('--cc-ink', inkOn(color));
      }
      const title = cleanTitle(look.title) || 'Chat';
      panel.setAttribute('aria-label', title);
      if (w.iframe) w.iframe.title = title;
    }

    function applyAvatar(url) {
      const old = bubble.querySelector('.av');
      if (old) old.remove();
      root.classList.remove('has-avatar');
      if (!url) return;
      const img = document.createElement('img');
      img.className = 'av';
      img.alt = '';
      img.decoding = 'async';
      img.referrerPolicy = 'no-referrer';
      img.addEventListener('error', safe(() => applyAvatar(''))); // back to the chat icon
      img.src = url;
      bubble.prepend(img);
      root.classList.add('has-avatar');
    }

    const persist = () => save(key, { open: w.isOpen, at: Date.now() });

    function setUnread(on) {
      root.classList.toggle('unread', on);
      if (on) bubble.setAttribute('aria-describedby', 'unread');
      else bubble.removeAttribute('aria-describedby');
    }

    function ensureIframe() {
      if (w.iframe) return;
      w.iframe = makeIframe(cfg, panel.getAttribute('aria-label'));
      watchLoad(w, () => root.classList.add('loaded'));
      panel.append(w.iframe);
    }

    function setOpen(open) {
      w.isOpen = open;
      root.classList.toggle('open', open);
      bubble.setAttribute('aria-expanded', String(open));
      bubble.setAttribute('aria-label', open ? 'Close chat' : 'Open chat');
      persist();
    }

    w.open = ({ focus = true } = {}) => {
      ensureIframe();
      if (!w.isOpen) {
        setOpen(true);
        setUnread(false);
        sendHost(w); // the URL may have changed since (single-page apps)
        post(w, 'open');
      }
      // Not when restoring state on page load: that would steal the page's focus.
      if (focus) w.iframe.focus();
    };

    w.close = () => {
      if (!w.isOpen) return;
      const active = shadow.activeElement; // the iframe, when focus is inside the chat
      setOpen(false);
      post(w, 'closed');
      if (active && active !== bubble) bubble.focus(); // don't leave focus in a hidden panel
    };

    w.toggle = () => (w.isOpen ? w.close() : w.open());

    bubble.addEventListener('click', safe(w.toggle));
    root.querySelector('.fallback-close').addEventListener('click', safe(w.close));
    shadow.addEventListener('keydown', safe((event) => {
      if (event.key === 'Escape' && w.isOpen) {
        event.stopPropagation();
        w.close();
      }
    }));

    listen(w, {
      ready() {
        root.classList.add('ready', 'loaded');
        sendHost(w);
        post(w, w.isOpen ? 'open' : 'closed');
      },
      config(data) {
        w.look = { ...w.look, ...lookFrom(data) };
        applyLook();
      },
      message(data) {
        if (data.role !== 'assistant') return;
        if (w.isOpen) persist(); // activity: keeps "open" remembered a while longer
        else setUnread(true);
      },
      close: w.close,
    });

    applyLook();
    applyAvatar(typeof conf.avatar_url === 'string' && /^https:\/\//.test(conf.avatar_url)
      ? conf.avatar_url : '');
    document.documentElement.append(host);
    const recent = saved.open && typeof saved.at === 'number'
      && Date.now() - saved.at < OPEN_MEMORY_MS;
    if (recent && !isPhone()) w.open({ focus: false });
    return w;
  }

  // The parts of a config (fetched or posted by the frame) that style the bubble.
  function lookFrom(data) {
    const look = {};
    if (!data) return look;
    if (data.position === 'left' || data.position === 'right') look.position = data.position;
    if (typeof data.color === 'string' && COLOR_RE.test(data.color)) look.color = data.color;
    if (cleanTitle(data.title)) look.title = cleanTitle(data.title);
    return look;
  }

  /* ---------- inline mode ---------- */

  function createInline(cfg, target, conf) {
    const { host, root } = makeHost(cfg);
    const w = { cfg, iframe: makeIframe(cfg, cleanTitle(conf.title) || 'Chat'), loaded: false };
    w.iframe.loading = 'lazy'; // an inline chat far down the page loads when scrolled near
    watchLoad(w);
    root.append(w.iframe);
    listen(w, {
      ready() {
        sendHost(w);
        post(w, 'open');
      },
      config(data) {
        if (cleanTitle(data.title)) w.iframe.title = cleanTitle(data.title);
      },
    });
    target.append(host);
  }

  /* ---------- the widget's config ---------- */

  // Resolves to the config, {missing: true} (unknown or switched-off widget) or null (could
  // not ask: fail open, the chat page's frame-ancestors still guards the frame).
  function fetchConfig(cfg) {
    if (typeof fetch !== 'function') return Promise.resolve(null);
    const url = `${cfg.origin}/embed/${encodeURIComponent(cfg.id)}/config.json`
      + `?origin=${encodeURIComponent(location.origin)}`;
    const abort = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = abort && setTimeout(() => abort.abort(), CONFIG_TIMEOUT_MS);
    return fetch(url, { mode: 'cors', credentials: 'omit', signal: abort && abort.signal })
      .then((r) => {
        if (r.status === 404) return { missing: true };
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        return r.json();
      })
      .then((conf) => (conf && typeof conf === 'object' ? conf : null))
      .catch((err) => {
        warn(`could not load the settings of widget "${cfg.id}" (${err && err.message}); showing it with the snippet's look.`);
        return null;
      })
      .finally(() => clearTimeout(timer));
  }

  // One message for the site owner when the widget stays hidden, and why.
  function refused(cfg, conf) {
    if (conf.missing) {
      warn(`widget "${cfg.id}" does not exist or is switched off, so no chat is shown.`);
      return true;
    }
    if (conf.allowed === false) {
      warn(`widget "${cfg.id}" is not allowed on ${location.origin}, so no chat is shown. `
        + `Add "${location.host}" to the widget's allowed domains in the ChatConnect dashboard.`);
      return true;
    }
    return false;
  }

  /* ---------- discovery ---------- */

  // Also catches a second copy of this file that could not share the registry.
  const bubbleInDom = (id) => [...document.getElementsByTagName('chatconnect-widget')].some(
    (el) => el.getAttribute('data-mode') === 'bubble' && el.getAttribute('data-widget-id') === id);

  function preconnect(origin) {
    if (origin === location.origin || !document.head) return;
    const link = document.createElement('link');
    link.rel = 'preconnect';
    link.href = origin;
    document.head.append(link);
  }

  function setup(script) {
    if (script.__chatconnect) return;
    const id = (script.getAttribute('data-widget-id') || '').trim();
    const origin = new URL(script.src, location.href).origin;
    if (!id || origin === 'null') return;
    const cfg = {
      id,
      origin,
      mode: script.getAttribute('data-mode') === 'inline' ? 'inline' : 'bubble',
      position: script.getAttribute('data-position'),
      color: script.getAttribute('data-color'),
    };

    if (cfg.mode === 'inline') {
      const selector = script.getAttribute('data-target');
      let target = null;
      try { target = selector && document.querySelector(selector); } catch (err) { /* bad selector */ }
      // An async script may run before its target is parsed: retry on DOMContentLoaded.
      if (!target && document.readyState === 'loading') return;
      script.__chatconnect = true;
      if (!target) warn('data-target not found:', selector);
      else if (!inlineTargets.has(target)) {
        inlineTargets.add(target);
        fetchConfig(cfg).then(safe((conf) => {
          if (!refused(cfg, conf || {})) createInline(cfg, target, conf || {});
        }));
      }
      return;
    }

    script.__chatconnect = true;
    if (claimed.has(id) || bubbleInDom(id)) return; // same widget twice on a page: one bubble
    claimed.add(id);
    preconnect(origin);
    // Nothing is drawn until the config is known: the first paint has the widget's own
    // colour, position and avatar, and a refused origin never sees a bubble at all.
    fetchConfig(cfg).then(safe((conf) => {
      if (refused(cfg, conf || {})) return;
      const w = createBubble(cfg, conf || {});
      widgets.set(id, w);
      if (opening.delete(id)) w.open(); // ChatConnect.open() called while the config loaded

    }));
  }

  function scan() {
    if (!document.documentElement.attachShadow) return; // very old browser: no widget
    const scripts = [...document.querySelectorAll(SCRIPT_SELECTOR)];
    const current = document.currentScript;
    if (current && current.hasAttribute('data-widget-id') && !scripts.includes(current)) {
      scripts.unshift(current); // served under another path (e.g. a CDN rewrite)
    }
    scripts.forEach(safe(setup));
  }

  // The first bubble widget, or the one with this id.
  const pick = (id) => (id == null ? widgets.values().next().value : widgets.get(id));
  // open() before the widget's config arrived: remembered, done when the bubble appears.
  const opening = new Set();
  const openLater = (id) => {
    const first = claimed.values().next().value;
    const target = id == null ? first : id;
    if (target != null && claimed.has(target) && !widgets.has(target)) opening.add(target);
  };

  const api = {
    __chatconnect: true,
    open: safe((id) => { const w = pick(id); if (w) w.open(); else openLater(id); }),
    close: safe((id) => {
      const w = pick(id);
      if (w) w.close();
      else opening.delete(id == null ? claimed.values().next().value : id);
    }),
    toggle: safe((id) => { const w = pick(id); if (w) w.toggle(); }),
    scan: safe(scan),
  };
  if (!existing) window.ChatConnect = api; // never clobber someone else's global

  api.scan();
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', api.scan);
})();
