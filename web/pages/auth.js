// Signed-out pages: first-run setup, sign in, open registration, invite links,
// password-reset links.

import { h, replace } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { get, post, seg, ApiError } from '../api.js';
import { field, selectField, errorBox, onSubmit, loading, emptyState, roleLabel, messageOf, runAction } from '../ui.js';
import { navigate } from '../router.js';
import { state, loadMe, signOut, rememberWorkspace } from '../session.js';
import { finishSignIn, setReturnTo, takeSignedOutReason } from '../flow.js';

/** The card every signed-out page sits in. */
function card(title, subtitle, ...content) {
  return h('section', { class: 'auth-card' },
    h('h1', { class: 'auth-title', tabindex: '-1' }, title),
    subtitle ? h('p', { class: 'auth-subtitle' }, subtitle) : null,
    content,
  );
}

/** A short device name for the session list, e.g. "Chrome on Windows". */
function describeDevice() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge'
    : /OPR\//.test(ua) ? 'Opera'
    : /Firefox\//.test(ua) ? 'Firefox'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari'
    : 'Browser';
  const os = /Android/.test(ua) ? 'Android'
    : /iPhone|iPad|iPod/.test(ua) ? 'iOS'
    : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux'
    : '';
  return os ? `${browser} on ${os}` : browser;
}

/** Email, username, display name and password fields shared by setup and registration. */
function accountFields(prefix, { email } = {}) {
  const fields = {
    email: field({ label: t('field.email'), name: 'email', type: 'email', testid: `${prefix}-email`, required: true, autocomplete: 'email', value: email || '', readonly: !!email, spellcheck: 'false' }),
    username: field({ label: t('field.username'), name: 'username', testid: `${prefix}-username`, required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' }),
    displayName: field({ label: t('field.displayName'), name: 'display_name', testid: `${prefix}-display-name`, required: true, autocomplete: 'name' }),
    password: field({ label: t('field.password'), name: 'password', type: 'password', testid: `${prefix}-password`, required: true, autocomplete: 'new-password', hint: t('field.passwordHint') }),
  };
  return fields;
}

/** The sign-up body shared by setup and registration; the account takes the page's language. */
function accountValues(fields) {
  return {
    email: fields.email.input.value.trim(),
    username: fields.username.input.value.trim(),
    display_name: fields.displayName.input.value.trim(),
    password: fields.password.input.value,
    locale: getLang(),
  };
}

// --- sign in -------------------------------------------------------------------

export function loginPage(ctx) {
  const reason = takeSignedOutReason();
  const login = field({ label: t('login.login'), name: 'login', testid: 'login-login', required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' });
  const password = field({ label: t('field.password'), name: 'password', type: 'password', testid: 'login-password', required: true, autocomplete: 'current-password' });
  const errors = errorBox('login-error');
  const form = h('form', { class: 'form', testid: 'login-form', novalidate: false },
    login, password, errors,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'login-submit' }, t('login.submit')),
  );
  onSubmit(form, errors, async () => {
    const auth = await post('/api/auth/login', {
      login: login.input.value.trim(),
      password: password.input.value,
      device: describeDevice(),
    }, { auth: false });
    await finishSignIn(auth);
  });

  const notice = reason && reason !== 'manual'
    ? h('div', { class: 'notice notice-warn', role: 'status', testid: 'signed-out-message' },
      reason === 'ended' ? t('login.sessionEnded') : reason === 'elsewhere' ? t('login.signedOutElsewhere') : t('login.sessionExpired'))
    : null;

  // First start: send the visitor to setup instead.
  get('/api/setup', { auth: false })
    .then((res) => {
      if (res?.required && ctx.alive()) navigate('/setup', { replace: true });
    })
    .catch(() => {});

  return card(t('login.title'), t('login.subtitle'),
    notice,
    form,
    h('p', { class: 'auth-alt' }, t('login.noAccount'), ' ', h('a', { href: '/register', testid: 'link-register' }, t('login.register'))),
    h('p', { class: 'auth-alt hint', testid: 'login-forgot' }, t('login.forgot')),
  );
}

// --- first-run setup --------------------------------------------------------------

function setupToken() {
  const hash = location.hash.replace(/^#/, '');
  const params = new URLSearchParams(hash);
  return params.get('token') || '';
}

export function setupPage(ctx) {
  const body = h('div', {}, loading());
  const token = setupToken();

  get('/api/setup', { auth: false })
    .then((res) => {
      if (!ctx.alive()) return;
      if (!res?.required) {
        replace(body,
          h('div', { class: 'notice', testid: 'setup-done' }, t('setup.done')),
          h('p', { class: 'auth-alt' }, h('a', { href: '/login', class: 'btn btn-primary btn-block' }, t('login.submit'))),
        );
        return;
      }
      replace(body, setupForm(token));
    })
    .catch((err) => {
      if (ctx.alive()) replace(body, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    });

  return card(t('setup.title'), t('setup.subtitle'), body);
}

function setupForm(token) {
  const tokenField = token ? null : field({ label: t('setup.token'), name: 'token', testid: 'setup-token', required: true, autocomplete: 'off', hint: t('setup.tokenHint'), spellcheck: 'false' });
  const workspace = field({ label: t('field.workspaceName'), name: 'workspace_name', testid: 'setup-workspace-name', required: true, autocomplete: 'organization' });
  const fields = accountFields('setup');
  const errors = errorBox('setup-error');
  const form = h('form', { class: 'form', testid: 'setup-form' },
    tokenField,
    h('fieldset', { class: 'fieldset' }, h('legend', {}, t('setup.workspace')), workspace),
    h('fieldset', { class: 'fieldset' }, h('legend', {}, t('setup.owner')),
      fields.displayName, fields.username, fields.email, fields.password),
    errors,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'setup-submit' }, t('setup.submit')),
  );
  onSubmit(form, errors, async () => {
    const auth = await post('/api/setup', {
      token: token || tokenField.input.value.trim(),
      workspace_name: workspace.input.value.trim(),
      ...accountValues(fields),
    }, { auth: false });
    await finishSignIn(auth, null, { newAccount: true });
  });
  return form;
}

// --- open registration ----------------------------------------------------------

export function registerPage(ctx) {
  const body = h('div', {}, loading());
  get('/api/auth/open-workspaces', { auth: false })
    .then((list) => {
      if (!ctx.alive()) return;
      if (!list?.length) {
        replace(body,
          emptyState(t('register.closedTitle'), t('register.closedText'), 'register-closed'),
          h('p', { class: 'auth-alt' }, h('a', { href: '/login' }, t('register.haveAccount'))),
        );
        return;
      }
      const workspace = selectField({
        label: t('register.workspace'), name: 'workspace_id', testid: 'register-workspace',
        options: list.map((w) => ({ value: w.id, label: w.name })),
      });
      const fields = accountFields('register');
      const errors = errorBox('register-error');
      const form = h('form', { class: 'form', testid: 'register-form' },
        workspace, fields.displayName, fields.username, fields.email, fields.password, errors,
        h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'register-submit' }, t('register.submit')),
      );
      onSubmit(form, errors, async () => {
        const wsId = workspace.input.value;
        const auth = await post('/api/auth/register', { workspace_id: wsId, ...accountValues(fields), device: describeDevice() }, { auth: false });
        rememberWorkspace(wsId);
        await finishSignIn(auth, `/w/${encodeURIComponent(wsId)}`, { newAccount: true });
      });
      replace(body, form, h('p', { class: 'auth-alt' }, h('a', { href: '/login', testid: 'link-login' }, t('register.haveAccount'))));
    })
    .catch((err) => {
      if (ctx.alive()) replace(body, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    });
  return card(t('register.title'), t('register.subtitle'), body);
}

// --- invite links ----------------------------------------------------------------

/** The invite token from `/invite#<token>`, `/invite#token=<token>` or `/invite/<token>`. */
function inviteToken(params) {
  if (params.token) return params.token;
  const hash = decodeURIComponent(location.hash.replace(/^#/, ''));
  if (hash.startsWith('token=')) return new URLSearchParams(hash).get('token') || '';
  return hash;
}

export function invitePage(ctx) {
  const token = inviteToken(ctx.params);
  const body = h('div', {}, loading());
  const titled = card(t('invite.title'), null, body);
  if (!token) {
    replace(body, invalidInvite());
    return titled;
  }
  get(`/api/invites/${seg(token)}`, { auth: false })
    .then((invite) => {
      if (!ctx.alive()) return;
      const heading = h('div', { class: 'invite-head' },
        h('p', { class: 'invite-lead' }, t('invite.lead')),
        h('p', { class: 'invite-workspace', testid: 'invite-workspace-name' }, invite.workspace_name),
        h('p', { class: 'invite-role' }, t('invite.asRole', { role: roleLabel(invite.role) })),
      );
      replace(body, heading, state.user ? acceptInvite(token, invite) : registerWithInvite(token, invite));
    })
    .catch((err) => {
      if (!ctx.alive()) return;
      replace(body, err instanceof ApiError && err.status === 404 ? invalidInvite() : h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    });
  return titled;
}

function invalidInvite() {
  return h('div', {},
    emptyState(t('invite.invalidTitle'), t('invite.invalidText'), 'invite-invalid'),
    h('p', { class: 'auth-alt' }, h('a', { href: '/login' }, t('register.haveAccount'))),
  );
}

function acceptInvite(token, invite) {
  const already = state.workspaces.find((w) => w.id === invite.workspace_id);
  const wsPath = `/w/${encodeURIComponent(invite.workspace_id)}`;
  const who = h('p', { class: 'invite-who' }, t('invite.signedInAs', { name: state.user.display_name || state.user.username }), ' ',
    h('button', { type: 'button', class: 'link-btn', testid: 'invite-switch-account', onclick: async () => {
      await signOut(); // the page re-renders signed out, offering registration

    } }, t('invite.notYou')));
  if (already) {
    return h('div', {},
      h('div', { class: 'notice', testid: 'invite-already-member' }, t('invite.alreadyMember')),
      h('a', { href: wsPath, class: 'btn btn-primary btn-block', testid: 'invite-open-workspace' }, t('invite.open')),
      who,
    );
  }
  const errors = errorBox('invite-accept-error');
  const button = h('button', { type: 'button', class: 'btn btn-primary btn-block', testid: 'invite-accept' }, t('invite.join'));
  button.addEventListener('click', () => runAction(button, async () => {
    const summary = await post(`/api/invites/${seg(token)}/accept`, {});
    await loadMe();
    const id = summary?.id || invite.workspace_id;
    rememberWorkspace(id);
    navigate(`/w/${encodeURIComponent(id)}`, { replace: true });
  }, errors));
  return h('div', {}, errors, button, who);
}

function registerWithInvite(token, invite) {
  const fields = accountFields('register', { email: invite.email });
  const errors = errorBox('register-error');
  const form = h('form', { class: 'form', testid: 'register-form' },
    fields.displayName, fields.username, fields.email, fields.password, errors,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'register-submit' }, t('invite.register')),
  );
  onSubmit(form, errors, async () => {
    const auth = await post('/api/auth/register', { invite_token: token, ...accountValues(fields), device: describeDevice() }, { auth: false });
    rememberWorkspace(invite.workspace_id);
    await finishSignIn(auth, `/w/${encodeURIComponent(invite.workspace_id)}`, { newAccount: true });
  });
  const signInLink = h('a', { href: '/login', testid: 'invite-sign-in', onclick: () => setReturnTo(location.pathname + location.hash) }, t('invite.signIn'));
  return h('div', {}, form, h('p', { class: 'auth-alt' }, t('invite.haveAccount'), ' ', signInLink));
}

// --- password-reset links ---------------------------------------------------------

/** `/reset-password#<token>`: choose a new password, then sign in. */
export function resetPasswordPage(ctx) {
  // Tokens are URL-safe as issued; a mangled fragment is just an unknown token.
  const token = location.hash.replace(/^#/, '');
  const body = h('div', {}, loading());
  const invalid = () => h('div', {},
    emptyState(t('reset.invalidTitle'), t('reset.invalidText'), 'reset-invalid'),
    h('p', { class: 'auth-alt' }, h('a', { href: '/login' }, t('login.submit'))),
  );
  if (!token) {
    replace(body, invalid());
    return card(t('reset.title'), null, body);
  }
  const path = `/api/auth/password-reset/${seg(token)}`;
  get(path, { auth: false })
    .then((who) => {
      if (!ctx.alive()) return;
      const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', value: who.username, hidden: true });
      const password = field({ label: t('password.new'), name: 'password', type: 'password', testid: 'reset-password', required: true, autocomplete: 'new-password', hint: t('field.passwordHint') });
      const errors = errorBox('reset-error');
      const form = h('form', { class: 'form', testid: 'reset-form' },
        h('p', { class: 'auth-subtitle', testid: 'reset-for' }, t('reset.for', { name: who.display_name, username: who.username })),
        username, password, errors,
        h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'reset-submit' }, t('reset.submit')),
      );
      onSubmit(form, errors, async () => {
        await post(path, { new_password: password.input.value }, { auth: false });
        // Every session of that account ended; if this tab was one, forget it here too.
        if (state.user?.username === who.username) await signOut().catch(() => {});
        replace(body,
          emptyState(t('reset.doneTitle'), t('reset.doneText'), 'reset-done'),
          h('a', { href: '/login', class: 'btn btn-primary btn-block', testid: 'reset-sign-in' }, t('login.submit')),
        );
      });
      replace(body, form);
    })
    .catch((err) => {
      if (!ctx.alive()) return;
      replace(body, err instanceof ApiError && err.status === 404 ? invalid() : h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    });
  return card(t('reset.title'), null, body);
}
