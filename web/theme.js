// Colour theme: 'system' (follow prefers-color-scheme, the default), 'light'
// or 'dark', kept in localStorage on this device (not secret, not synced).
// The resolved scheme goes on <html data-theme="light|dark">; style.css keys
// its dark palette on [data-theme="dark"].

const STORAGE_KEY = 'convene.theme';
export const THEMES = ['system', 'light', 'dark'];

const media = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
const listeners = new Set();

function stored() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return THEMES.includes(v) ? v : null;
  } catch {
    return null;
  }
}

let choice = stored() || 'system';

/** The user's choice: 'system', 'light' or 'dark'. */
export function theme() {
  return choice;
}

/** The scheme in effect: 'light' or 'dark'. */
export function resolvedTheme() {
  if (choice !== 'system') return choice;
  return media?.matches ? 'dark' : 'light';
}

function apply() {
  const scheme = resolvedTheme();
  document.documentElement.dataset.theme = scheme;
  for (const fn of listeners) fn(scheme);
}

/** Pick a theme; 'system' forgets the choice. */
export function setTheme(value) {
  if (!THEMES.includes(value)) return;
  choice = value;
  try {
    if (value === 'system') localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, value);
  } catch {
    // Storage may be unavailable (private mode): the choice lasts for this page.
  }
  apply();
}

/** Call fn(scheme) whenever the scheme in effect changes. Returns an unsubscribe function. */
export function onThemeChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

media?.addEventListener?.('change', () => {
  if (choice === 'system') apply();
});
// Another tab changed the choice.
addEventListener('storage', (e) => {
  if (e.key !== STORAGE_KEY) return;
  choice = stored() || 'system';
  apply();
});

apply();
