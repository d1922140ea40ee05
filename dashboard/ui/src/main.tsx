import { render } from 'preact';
import { App } from './app.js';
import { getLang } from './i18n.js';
import './styles.css';

document.documentElement.lang = getLang() === 'zh' ? 'zh-CN' : 'en';
render(<App />, document.getElementById('app')!);
