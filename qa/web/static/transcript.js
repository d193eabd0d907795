// The chat log (js_on_load). The server sends one message at a time as this component's value; it is
// appended here, so a turn costs the same however long the chat is. An empty value clears the log.
const log = element.querySelector('.qa-log'), box = element.querySelector('.qa-log-box');
element.addEventListener('click', (ev) => {
  const ex = ev.target instanceof Element ? ev.target.closest('button.qa-example') : null;
  if (ex) { ev.preventDefault(); trigger('click', {example: ex.dataset.example || ex.textContent}); }
});
watch('value', () => {
  const html = props.value || '';
  if (!html) { log.replaceChildren(); return; }
  const tmp = document.createElement('template');
  tmp.innerHTML = html;
  const seq = tmp.content.firstElementChild?.dataset?.seq;
  if (seq && log.querySelector(`.qa-msg[data-seq="${CSS.escape(seq)}"]`)) return;  // already shown
  log.append(tmp.content);
  if (box) box.scrollTop = box.scrollHeight;
});
