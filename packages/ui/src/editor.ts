// The explore page's PromQL editor: CodeMirror 6 with @prometheus-io/codemirror-promql for
// highlighting, linting (the parser's errors underlined where they are, as you type) and
// completion of functions, keywords and, from Patrol's Prometheus API (/api/v1/label/…/values,
// /api/v1/labels, /api/v1/series, /api/v1/metadata), metric and label names and label values.
// Loaded on demand by the explore page (its own chunk): the overview never downloads it.
//
// The editor lives in a shadow root: there CodeMirror's style sheets are constructed ones
// (adoptedStyleSheets), which the dashboard's Content-Security-Policy (style-src 'self', no
// inline <style>) allows, where in the document it would insert a <style> element the policy
// blocks. Colours are classes (pq-*) styled with the page's theme variables (custom properties
// inherit into the shadow root), so dark and light follow the page.

import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, insertNewline } from '@codemirror/commands';
import { bracketMatching, syntaxHighlighting } from '@codemirror/language';
import { lintKeymap } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { tagHighlighter, tags } from '@lezer/highlight';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';

export interface EditorHandle {
  /** Replaces the text (a query from the URL), unless it is already what the editor holds. */
  setDoc(text: string): void;
  focus(): void;
  destroy(): void;
}

const highlighter = tagHighlighter([
  { tag: tags.keyword, class: 'pq-kw' },
  { tag: tags.function(tags.variableName), class: 'pq-fn' },
  { tag: tags.variableName, class: 'pq-metric' },
  { tag: tags.labelName, class: 'pq-label' },
  { tag: tags.string, class: 'pq-str' },
  { tag: tags.number, class: 'pq-num' },
  { tag: tags.operator, class: 'pq-op' },
  { tag: tags.modifier, class: 'pq-kw' },
  { tag: tags.comment, class: 'pq-comment' },
  { tag: tags.invalid, class: 'pq-invalid' },
]);

const theme = EditorView.theme({
  // The border and focus ring are the host's (style.css), which the page can mark invalid.
  '&': { color: 'var(--fg)', fontSize: '13px' },
  '&.cm-focused': { outline: 'none' },
  '.cm-content': { fontFamily: 'ui-monospace, monospace', padding: '6px 2px', minHeight: '3.6em', caretColor: 'var(--fg)' },
  '.cm-scroller': { fontFamily: 'ui-monospace, monospace', lineHeight: '1.45' },
  '.cm-placeholder': { color: 'var(--muted)' },
  '.cm-tooltip': { background: 'var(--card)', color: 'var(--fg)', border: '1px solid var(--line)', borderRadius: '6px' },
  '.cm-tooltip-autocomplete > ul > li[aria-selected]': { background: 'var(--sel)', color: 'var(--fg)' },
  '.cm-completionDetail': { color: 'var(--muted)', fontStyle: 'normal', marginLeft: '8px' },
  '.cm-completionInfo': { maxWidth: '420px', padding: '6px 8px' },
  '.pq-kw': { color: 'var(--pq-kw)' },
  '.pq-fn': { color: 'var(--pq-fn)' },
  '.pq-metric': { color: 'var(--fg)' },
  '.pq-label': { color: 'var(--pq-label)' },
  '.pq-str': { color: 'var(--pq-str)' },
  '.pq-num': { color: 'var(--pq-num)' },
  '.pq-op': { color: 'var(--pq-op)' },
  '.pq-comment': { color: 'var(--muted)', fontStyle: 'italic' },
  '.pq-invalid': { color: 'var(--down)' },
});

/**
 * Mounts the editor in `parent`. `onChange` gets every edit; `onRun` the text on Ctrl/⌘+Enter
 * (Shift+Enter and Enter insert a line; Enter first accepts an open completion).
 */
export function mountEditor(parent: HTMLElement, opts: { doc: string; label: string; placeholder: string; onChange: (text: string) => void; onRun: (text: string) => void }): EditorHandle {
  const promql = new PromQLExtension().setComplete({
    remote: {
      url: location.origin,
      // GET: the dashboard's reads need no CSRF token.
      httpMethod: 'GET',
      // An unreachable or refusing server only means fewer suggestions.
      httpErrorHandler: () => {},
      cache: { maxAge: 5 * 60_000 },
    },
    maxMetricsMetadata: 10_000,
  });
  const run = (view: EditorView) => {
    opts.onRun(view.state.doc.toString());
    return true;
  };
  const root = parent.shadowRoot ?? parent.attachShadow({ mode: 'open' });
  const view = new EditorView({
    root,
    parent: root,
    state: EditorState.create({
      doc: opts.doc,
      extensions: [
        history(),
        closeBrackets(),
        bracketMatching(),
        autocompletion({ icons: false }),
        syntaxHighlighting(highlighter),
        promql.asExtension(),
        placeholder(opts.placeholder),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': opts.label, 'data-testid': 'promql' }),
        keymap.of([{ key: 'Mod-Enter', run, preventDefault: true }, { key: 'Shift-Enter', run: insertNewline }, ...closeBracketsKeymap, ...completionKeymap, ...lintKeymap, ...historyKeymap, ...defaultKeymap]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) opts.onChange(u.state.doc.toString());
        }),
        theme,
      ],
    }),
  });
  return {
    setDoc(text) {
      const cur = view.state.doc.toString();
      if (cur !== text) view.dispatch({ changes: { from: 0, to: cur.length, insert: text } });
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
