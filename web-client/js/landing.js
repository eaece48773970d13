import { applyI18n, t, toggleLang } from './i18n.js';

const roleKey = (r) => `role_${r}`;

const fmt = (d) => d.toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'Asia/Shanghai' });

function when(session) {
  const start = new Date(session.start_utc * 1000);
  const end = new Date(session.end_utc * 1000);
  return `${t('state_' + session.state)} · ${fmt(start)}–${fmt(end)} (北京时间)`;
}

function fillLinks(list, links) {
  list.replaceChildren();
  for (const l of links) {
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
    list.append(li);
  }
}

// The research session and the lecture: a card each, filled like the lesson's.
function fillCard(id, entry) {
  const card = document.getElementById(id);
  if (!entry) return;
  card.hidden = false;
  card.querySelector('.lesson-title').textContent = `${entry.session.subject} · ${entry.session.title}`;
  card.querySelector('.muted').textContent = when(entry.session);
  fillLinks(card.querySelector('.links'), entry.links);
}

// Each demo classroom's timetable, as a classroom PC would keep it bookmarked.
function fillSchedules(links) {
  const card = document.getElementById('schedules');
  card.hidden = links.length === 0;
  fillLinks(card.querySelector('.links'), links.map((l) => ({ ...l, role: 'schedule' })));
}

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
  document.getElementById('lesson-state').textContent = when(demo.session);
  fillLinks(links, demo.links);
  fillSchedules(demo.schedule_links || []);
  fillCard('research', demo.research);
  fillCard('lecture', demo.lecture);
}

document.getElementById('lang').addEventListener('click', () => {
  toggleLang();
  render();
});
render();
