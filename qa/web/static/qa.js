() => {
  // Page-wide handlers, installed once: a click (or Enter/Space) on a citation [n] or a source opens
  // that document through the viewer (window.__qaOpen, set by viewer.js); Copy buttons copy the
  // answer and its sources (clipboard API, or a textarea when the page is not a secure context).
  if (window.__qaInstalled) return;
  window.__qaInstalled = true;
  const pick = (ev, sel) => {
    for (const el of ev.composedPath ? ev.composedPath() : [ev.target]) {
      if (el instanceof Element && el.matches(sel)) return el;
    }
    return null;
  };
  const copy = async (text, btn) => {
    try { await navigator.clipboard.writeText(text); }
    catch (e) {
      const ta = document.createElement('textarea');
      ta.value = text; ta.style.position = 'fixed'; ta.style.left = '-9999px';
      document.body.appendChild(ta); ta.select(); document.execCommand('copy'); ta.remove();
    }
    const old = btn.textContent; btn.textContent = 'Copied'; setTimeout(() => { btn.textContent = old; }, 1500);
  };
  const act = (ev) => {
    const cite = pick(ev, '[data-cite], a.qa-cite');
    if (cite && window.__qaOpen) {
      ev.preventDefault(); ev.stopPropagation();
      let d = cite.dataset;
      const m = /#qa-cite-(\d+)-(\w+)-(\d+)$/.exec(cite.getAttribute('href') || '');
      if (d.cite === undefined && m) d = {turn: m[1], kind: m[2], cite: m[3]};
      window.__qaOpen({turn: Number(d.turn), kind: d.kind || 'cite', cite: Number(d.cite)});
      return;
    }
    const btn = pick(ev, 'button.qa-copy');
    if (btn) {
      ev.preventDefault(); ev.stopPropagation();
      const src = btn.closest('.qa-answer')?.querySelector('.qa-copy-text');
      copy(src ? src.textContent : '', btn);
    }
  };
  document.addEventListener('click', act, true);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') act(ev); }, true);
}
