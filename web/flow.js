// Where to go around sign-in and sign-out: the page to come back to after
// signing in, and why the user was signed out (shown on the login page).

import { navigate } from './router.js';
import { signIn, defaultWorkspaceId } from './session.js';

let returnTo = null;
let signedOutReason = null;

/** Remember the page a signed-out visitor wanted (restored after sign-in). */
export function setReturnTo(path) {
  returnTo = path;
}

/** Why the last session ended: 'ended' | 'expired' | 'elsewhere' | 'manual' | null. */
export function takeSignedOutReason() {
  return signedOutReason;
}

export function setSignedOutReason(reason) {
  signedOutReason = reason;
}

/** The signed-in start page: the last workspace, else the workspace picker. */
export function homePath() {
  const ws = defaultWorkspaceId();
  return ws ? `/w/${encodeURIComponent(ws)}` : '/workspaces';
}

/** Adopt an AuthResponse and go where the user was heading. */
export async function finishSignIn(auth, fallback, { newAccount = false } = {}) {
  await signIn(auth, { newAccount });
  signedOutReason = null;
  const target = returnTo || fallback || homePath();
  returnTo = null;
  navigate(target, { replace: true });
}
