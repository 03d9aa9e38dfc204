// Admin action buttons: confirmation, a busy state and the result banner.

import { useState, type ReactNode } from 'react';
import { Banner } from './Banner';

export interface ActionState {
  busy: boolean;
  error: string | null;
  done: string | null;
  /** Asks for confirmation (when `confirm` is set), runs `fn`, then `after`. */
  run: (opts: { confirm?: string; fn: () => Promise<unknown>; done: string; after?: () => void }) => void;
  clear: () => void;
}

export function useActions(): ActionState {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const run: ActionState['run'] = ({ confirm, fn, done: doneText, after }) => {
    if (confirm && !window.confirm(confirm)) return;
    setBusy(true);
    setError(null);
    setDone(null);
    fn().then(
      () => {
        setBusy(false);
        setDone(doneText);
        after?.();
      },
      (e: unknown) => {
        setBusy(false);
        setError(e instanceof Error ? e.message : String(e));
      },
    );
  };
  return { busy, error, done, run, clear: () => (setError(null), setDone(null)) };
}

export function ActionBanners({ state }: { state: ActionState }) {
  return (
    <>
      {state.error && (
        <Banner kind="error" onClose={state.clear}>
          {state.error}
        </Banner>
      )}
      {state.done && (
        <Banner kind="success" onClose={state.clear}>
          {state.done}
        </Banner>
      )}
    </>
  );
}

export function ActionButton(props: {
  kind?: 'danger' | 'warn' | 'normal';
  disabled?: boolean;
  onClick: () => void;
  children: ReactNode;
  testId?: string;
  title?: string;
}) {
  return (
    <button
      type="button"
      className={`btn btn-${props.kind ?? 'normal'}`}
      disabled={props.disabled}
      onClick={props.onClick}
      data-testid={props.testId}
      title={props.title}
    >
      {props.children}
    </button>
  );
}
