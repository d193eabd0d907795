// The document viewer (js_on_load): citation clicks reach the server through this component's
// click event; when a document arrives, scroll it to the quote and bring the box into view.
window.__qaOpen = (data) => trigger('click', data);
watch('value', () => {
  const m = element.querySelector('mark.qa-hit'), box = element.querySelector('.qa-doc');
  if (!m || !box) return;
  const head = box.querySelector('.qa-doc-head'), below = (head ? head.offsetHeight : 0) + 24;
  const top = m.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
  box.scrollTop = Math.max(0, top - below - Math.max(0, box.clientHeight - below - m.offsetHeight) / 4);
  box.scrollIntoView({block: 'nearest'});
});
