"""The embed page's postMessage bridge to the loader (installed once per page load)."""

# Installed once per page load. Posts only to the origin of the ?host= parameter and accepts
# loader messages only from it (and from the parent window); preview settings only from our
# own origin (the dashboard). Escape asks the loader to close the panel.
BRIDGE_JS = r"""
(() => {
  const q = new URLSearchParams(location.search);
  // The dashboard's editor re-sends its unsaved settings when the preview (re)loads.
  const previewReady = () => {
    if (q.get('preview') === '1' && window.parent !== window)
      window.parent.postMessage({type: 'chatconnect:preview-ready'}, location.origin);
  };
  if (window.ccEmbed) { window.ccEmbed.post({type: 'chatconnect:ready'}); previewReady(); return; }
  let hostOrigin = null;
  try {
    const u = new URL(q.get('host') || '');
    if (/^https?:$/.test(u.protocol)) hostOrigin = u.origin;
  } catch (e) { /* no host: nothing to talk to */ }
  const framed = window.parent !== window;
  const post = (msg) => { if (framed && hostOrigin) window.parent.postMessage(msg, hostOrigin); };
  window.ccEmbed = { post };
  window.addEventListener('message', (e) => {
    const d = e.data;
    if (!d || typeof d.type !== 'string' || e.source !== window.parent) return;
    if (d.type === 'chatconnect:preview' && e.origin === location.origin) {
      window.__ccPreview = d.settings || {};
      // Applying is idempotent; the second pass covers a first one that lands while the
      // page is still hydrating after a reload (its update is then lost).
      const apply = () => {
        const b = document.getElementById('cc-preview-apply'); if (b) b.click();
      };
      apply(); setTimeout(apply, 600);
      return;
    }
    if (e.origin !== hostOrigin) return;
    if (d.type === 'chatconnect:open') {
      const i = document.getElementById('cc-input'); if (i) setTimeout(() => i.focus(), 50);
    }
  });
  document.addEventListener('keydown', (e) => {
    // An open popover (a citation) takes the first Escape for itself.
    if (e.key !== 'Escape' || e.defaultPrevented || q.get('mode') === 'inline') return;
    try { if (document.querySelector(':popover-open')) return; } catch (err) { /* no popover */ }
    post({type: 'chatconnect:close'});
  });
  post({type: 'chatconnect:ready'});
  previewReady();
})();
"""
