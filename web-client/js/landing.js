import { applyI18n, t, toggleLang } from './i18n.js';

const roleKey = (r) => `role_${r}`;

async function render() {
  applyI18n();
  const res = await fetch('/api/demo');
  const links = document.getElementById('links');
  links.replaceChildren();
  if (!res.ok) {
    document.getElementById('lesson-title').textContent = t('no_demo');
    return;
  }
  const demo = await res.json();
  document.getElementById('lesson-title').textContent = `${demo.session.subject} · ${demo.session.title}`;
  const start = new Date(demo.session.start_utc * 1000);
  const end = new Date(demo.session.end_utc * 1000);
  const fmt = (d) => d.toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'Asia/Shanghai' });
  document.getElementById('lesson-state').textContent =
    `${t('state_' + demo.session.state)} · ${fmt(start)}–${fmt(end)} (北京时间)`;
  for (const l of demo.links) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = l.url;
    a.target = '_blank';
    a.dataset.role = l.role;
    a.className = `join join-${l.role}`;
    a.innerHTML = `<span class="role"></span><span class="name"></span>`;
    a.querySelector('.role').textContent = t(roleKey(l.role));
    a.querySelector('.name').textContent = l.name;
    li.append(a);
    links.append(li);
  }
}

document.getElementById('lang').addEventListener('click', () => {
  toggleLang();
  render();
});
render();
