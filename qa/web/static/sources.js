// The sources panel (js_on_load) keeps the passage being read in view inside its own scroll box.
watch('value', () => {
  const a = element.querySelector('.qa-source.qa-active'), box = element.querySelector('.qa-sources');
  if (!a || !box) return;
  const head = box.querySelector('.qa-panel-head'), below = (head ? head.offsetHeight : 0) + 8;
  const top = a.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
  if (top - below < box.scrollTop || top + a.offsetHeight > box.scrollTop + box.clientHeight) {
    box.scrollTop = Math.max(0, top - below);
  }
});
