// Every user-visible string, once per language. Chinese by default.

export const STRINGS = {
  zh: {
    app_name: '同步课堂',
    tagline: '北京—内蒙古 同步课堂与教研',
    demo_lesson: '示例课程',
    schedule_title: '本周课表',
    schedule_empty: '本周没有安排。',
    schedule_error: '无法打开课表：',
    schedule_no_token: '链接不完整，请向教务或运维索取本教室的课表链接。',
    times_in_zone: '时间为{zone}',
    beijing_time: '北京时间',
    in_days: '{n} 天',
    kind_lesson: '同步课堂',
    kind_research: '同步教研',
    kind_lecture: '讲座',
    with: '与',
    join_now: '进入课堂',
    opens_in: '距开放',
    schedule_link: '本教室课表',
    role_schedule: '课表',
    schedule_links_title: '各教室课表',
    schedule_links_hint: '每个教室保存自己的课表链接：课前 10 分钟“进入课堂”按钮自动开放。',
    demo_research: '同步教研（同课异构）',
    demo_lecture: '专家讲座',
    join_as: '以下列身份加入：',
    role_host: '主讲教室',
    role_classroom: '远端教室',
    role_observer: '观察员',
    role_operator: '运维',
    state_scheduled: '未开始',
    state_open: '可加入',
    state_live: '上课中',
    state_ended: '已结束',
    state_report: '已结束',
    connecting: '正在连接…',
    connected: '已连接',
    reconnecting: '连接中断，正在重连…',
    disconnected: '已断开',
    start_lesson: '开始上课',
    end_lesson: '结束课程',
    raise_hand: '举手',
    lower_hand: '放下手',
    hand_raised: '举手了',
    chat: '聊天',
    send: '发送',
    chat_placeholder: '输入消息…',
    teacher: '主讲老师',
    you: '我',
    waiting_teacher: '等待主讲老师的画面…',
    waiting_classrooms: '等待远端教室加入…',
    lesson_ended: '本节课已结束，感谢参与。',
    enable_sound: '点击开启声音',
    camera_error: '无法打开摄像头或麦克风：',
    join_error: '无法加入：',
    spotlight: '聚焦',
    unspotlight: '取消聚焦',
    language: 'English',
    no_demo: '未开启演示模式。',
    you_were_muted: '主讲老师已将你的麦克风静音。',
    was_muted: '已被静音',
  },
  en: {
    app_name: 'Tongbu',
    tagline: 'Beijing–Inner Mongolia synchronized classrooms',
    demo_lesson: 'Sample lesson',
    schedule_title: "This week's timetable",
    schedule_empty: 'Nothing scheduled this week.',
    schedule_error: 'Cannot open the timetable:',
    schedule_no_token: "The link is incomplete; ask the operator for this classroom's timetable link.",
    times_in_zone: 'Times are {zone}',
    beijing_time: 'Beijing time',
    in_days: '{n} days',
    kind_lesson: 'Joint lesson',
    kind_research: 'Teaching research',
    kind_lecture: 'Lecture',
    with: 'with',
    join_now: 'Join now',
    opens_in: 'Opens in',
    schedule_link: "Classroom's timetable",
    role_schedule: 'Timetable',
    schedule_links_title: 'Timetables of the classrooms',
    schedule_links_hint: 'Each classroom keeps its own timetable link: its Join button opens 10 minutes before each session.',
    demo_research: 'Teaching research (同课异构, two lessons compared)',
    demo_lecture: 'Expert lecture',
    join_as: 'Join as:',
    role_host: 'Host classroom',
    role_classroom: 'Remote classroom',
    role_observer: 'Observer',
    role_operator: 'Operator',
    state_scheduled: 'Scheduled',
    state_open: 'Open',
    state_live: 'Live',
    state_ended: 'Ended',
    state_report: 'Ended',
    connecting: 'Connecting…',
    connected: 'Connected',
    reconnecting: 'Connection lost, reconnecting…',
    disconnected: 'Disconnected',
    start_lesson: 'Start lesson',
    end_lesson: 'End lesson',
    raise_hand: 'Raise hand',
    lower_hand: 'Lower hand',
    hand_raised: 'raised a hand',
    chat: 'Chat',
    send: 'Send',
    chat_placeholder: 'Type a message…',
    teacher: 'Teacher',
    you: 'You',
    waiting_teacher: 'Waiting for the teacher’s video…',
    waiting_classrooms: 'Waiting for remote classrooms to join…',
    lesson_ended: 'This lesson has ended. Thank you.',
    enable_sound: 'Click to enable sound',
    camera_error: 'Cannot open camera or microphone: ',
    join_error: 'Cannot join: ',
    spotlight: 'Spotlight',
    unspotlight: 'Clear spotlight',
    language: '中文',
    no_demo: 'Demo mode is off.',
    you_were_muted: 'The host muted your microphone.',
    was_muted: 'was muted',
  },
};

let lang = localStorage.getItem('tongbu.lang') || 'zh';

export function t(key) {
  return (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.zh[key] || key;
}

export function currentLang() {
  return lang;
}

/** Fills every element with data-i18n (text) or data-i18n-placeholder / -label attributes. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}

export function toggleLang() {
  lang = lang === 'zh' ? 'en' : 'zh';
  localStorage.setItem('tongbu.lang', lang);
  applyI18n();
  document.dispatchEvent(new CustomEvent('langchange'));
}
