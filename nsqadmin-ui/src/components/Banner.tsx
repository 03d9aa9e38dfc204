import type { ReactNode } from 'react';

export type BannerKind = 'error' | 'warning' | 'info' | 'success';

export function Banner({ kind, children, onClose }: { kind: BannerKind; children: ReactNode; onClose?: () => void }) {
  return (
    <div className={`banner banner-${kind}`} role={kind === 'error' ? 'alert' : 'status'} data-testid={`banner-${kind}`}>
      <span className="banner-text">{children}</span>
      {onClose && (
        <button type="button" className="banner-close" onClick={onClose} aria-label="dismiss">
          ×
        </button>
      )}
    </div>
  );
}

/** The banner for an API response's `message`: "WARNING: …" is a warning, anything else an error. */
export function MessageBanner({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  if (message.startsWith('WARNING')) return <Banner kind="warning">{message}</Banner>;
  return <Banner kind="error">{message}</Banner>;
}

export function Notice({ children }: { children: ReactNode }) {
  return <div className="notice">{children}</div>;
}
