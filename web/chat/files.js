// Files: uploads with progress (XHR, multipart field `file`), thumbnails and
// downloads fetched with the bearer token into blob: URLs (the API needs the
// Authorization header, and the CSP allows img-src blob:).

import { api, getAccessToken, refresh, seg, ApiError } from '../api.js';
import { t } from '../i18n.js';

const blobs = new Map(); // url -> Promise<objectURL|null>

/** An object URL for an API resource, cached by URL. */
export function blobUrl(url) {
  if (!blobs.has(url)) {
    const p = api('GET', url, { as: 'blob' })
      .then((blob) => (blob && blob.size ? URL.createObjectURL(blob) : null))
      .catch(() => {
        blobs.delete(url);
        return null;
      });
    blobs.set(url, p);
  }
  return blobs.get(url);
}

/** Fetch a file and save it under its original name. */
export async function downloadFile(file) {
  const blob = await api('GET', file.url, { as: 'blob' });
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = file.name || 'file';
  a.rel = 'noopener';
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return t('chat.bytes', { n });
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function isImage(file) {
  return /^image\/(png|jpeg|gif|webp)$/.test(file.content_type || '') && !!file.thumbnail_url;
}

/**
 * Upload one file to a channel. Returns { promise, abort }; `onProgress(loaded, total)`.
 * The promise resolves with the FileInfo. A 401 refreshes the token and retries once.
 */
export function uploadFile(channelId, file, onProgress) {
  let xhr = null;
  let aborted = false;
  const attempt = (retry) => new Promise((resolve, reject) => {
    xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/channels/${seg(channelId)}/files`);
    const token = getAccessToken();
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.responseType = 'text';
    xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = async () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(file.size, file.size);
        resolve(data);
        return;
      }
      if (xhr.status === 401 && retry) {
        try {
          await refresh();
          resolve(await attempt(false));
        } catch (err) {
          reject(err);
        }
        return;
      }
      let message = data?.error?.message;
      if (!message) message = xhr.status === 413 ? t('chat.fileTooLarge') : t('error.generic', { status: xhr.status });
      reject(new ApiError(xhr.status, data?.error?.code || `http_${xhr.status}`, message));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', t('error.network')));
    xhr.onabort = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    const form = new FormData();
    form.append('file', file, file.name || 'file');
    xhr.send(form);
  });
  const promise = aborted ? Promise.reject(new Error('aborted')) : attempt(true);
  return {
    promise,
    abort: () => {
      aborted = true;
      xhr?.abort();
    },
  };
}
