// History API routing with clean paths. The server answers index.html for any
// path that is not a file and not under /api, so deep links load the app.

const routes = [];
let onRoute = () => {};

/** Register a route: pattern like '/w/:ws/admin/members'. */
export function route(pattern, handler, meta = {}) {
  const keys = [];
  const source = pattern
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        keys.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  routes.push({ pattern, regex: new RegExp(`^${source}/?$`), keys, handler, meta });
}

/** Find the route for a path: { handler, params, meta } or null. */
export function match(pathname) {
  for (const r of routes) {
    const m = r.regex.exec(pathname);
    if (!m) continue;
    const params = {};
    r.keys.forEach((key, i) => {
      params[key] = decodeURIComponent(m[i + 1]);
    });
    return { handler: r.handler, params, meta: r.meta, pattern: r.pattern };
  }
  return null;
}

/** Called on every navigation with the Location. */
export function onNavigate(fn) {
  onRoute = fn;
}

/** Go to a path (may include ?query and #hash). */
export function navigate(path, { replace = false } = {}) {
  const current = location.pathname + location.search + location.hash;
  if (path !== current) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
  }
  onRoute(location);
}

/** Re-render the current location (e.g. after a language change). */
export function reload() {
  onRoute(location);
}

export function startRouter() {
  window.addEventListener('popstate', () => onRoute(location));
  // Same-origin links navigate in place; modified clicks open tabs as usual.
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = event.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  onRoute(location);
}
