// No untranslated strings: every key the client uses through t('…') in
// web/**/*.js exists in both the English and the Chinese dictionary of
// web/i18n.js, the two dictionaries have the same keys (but for English
// `_one` singulars), and each translation
// keeps the {placeholders} of its English text. Keys built at run time
// (t(`role.${role}`)) must match at least one key in each dictionary.
// No browser and no server: plain Node.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { HERE } from './harness.mjs';

const WEB = resolve(HERE, '../../web');

function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return jsFiles(p);
    return e.name.endsWith('.js') ? [p] : [];
  });
}

/** Every t('key') / t("key") / t(`key.${x}`) call in the client: [{ file, line, key, dynamic }]. */
function usedKeys() {
  const uses = [];
  const call = /(?<![\w$.])t\(\s*(?:'([^'\n]+)'|"([^"\n]+)"|`([^`\n]+)`)/g;
  for (const file of jsFiles(WEB)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(call)) {
      const line = text.slice(0, m.index).split('\n').length;
      const where = `${relative(WEB, file)}:${line}`;
      if (m[3] != null) uses.push({ where, key: m[3], dynamic: m[3].includes('${') });
      else uses.push({ where, key: m[1] ?? m[2], dynamic: false });
    }
  }
  return uses;
}

const placeholders = (text) => [...String(text).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('translations', () => {
  let dicts;

  before(async () => {
    // i18n.js touches the DOM and storage when it loads: give it just enough.
    globalThis.document ??= { documentElement: {} };
    globalThis.localStorage ??= { getItem: () => null, setItem() {}, removeItem() {} };
    if (!globalThis.navigator) {
      Object.defineProperty(globalThis, 'navigator', { value: { languages: ['en-US'], language: 'en-US' }, configurable: true });
    }
    ({ dictionaries: dicts } = await import(join(WEB, 'i18n.js')));
  });

  it('English and Chinese have the same keys', () => {
    // `key_one` is the singular an English text may need (t() picks it for
    // count 1); Chinese does not inflect, so only its base key must exist.
    const en = new Set(Object.keys(dicts.en));
    const zh = new Set(Object.keys(dicts['zh-CN']));
    const singular = (k) => k.endsWith('_one') && en.has(k.slice(0, -4));
    assert.deepEqual([...en].filter((k) => !zh.has(k) && !singular(k)), [], 'keys missing in zh-CN');
    assert.deepEqual([...zh].filter((k) => !en.has(k)), [], 'keys missing in en');
  });

  it('every translation keeps the placeholders of the English text and none is empty', () => {
    const bad = [];
    for (const [key, text] of Object.entries(dicts.en)) {
      const zh = dicts['zh-CN'][key];
      if (zh === undefined) continue;
      if (!String(text).trim() || !String(zh).trim()) bad.push(`${key}: empty`);
      else if (placeholders(text).join() !== placeholders(zh).join()) {
        bad.push(`${key}: en {${placeholders(text)}} vs zh-CN {${placeholders(zh)}}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it("every key used through t('…') in web/**/*.js exists in both languages", () => {
    const uses = usedKeys();
    assert.ok(uses.length > 200, `found only ${uses.length} t() calls: is the pattern still right?`);
    const missing = [];
    for (const [lang, dict] of Object.entries(dicts)) {
      const keys = Object.keys(dict);
      for (const { where, key, dynamic } of uses) {
        if (dynamic) {
          const source = key.split(/\$\{[^}]*\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+');
          const re = new RegExp(`^${source}$`);
          if (!keys.some((k) => re.test(k))) missing.push(`${lang}: ${key} (${where})`);
        } else if (!(key in dict)) {
          missing.push(`${lang}: ${key} (${where})`);
        }
      }
    }
    assert.deepEqual(missing, []);
  });
});
