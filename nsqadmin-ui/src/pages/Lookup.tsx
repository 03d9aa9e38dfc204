import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { ActionBanners, useActions } from '../components/Actions';
import { Banner, MessageBanner, Notice } from '../components/Banner';
import { config } from '../config';
import { usePoll } from '../hooks';
import { Link } from '../router';

const NAME = /^[.a-zA-Z0-9_-]+(#ephemeral)?$/;

/** Topic and channel names: 1..64 of [.a-zA-Z0-9_-], optionally ending in "#ephemeral". */
export function validName(name: string): boolean {
  return name.length > 0 && name.length <= 64 && NAME.test(name);
}

export function LookupPage() {
  const hasLookupd = config.lookupd.length > 0;
  const poll = usePoll('inactive', api.inactiveTopics);
  const actions = useActions();
  const [topic, setTopic] = useState('');
  const [channel, setChannel] = useState('');
  const inactive = poll.data?.topics ?? {};
  const names = Object.keys(inactive).sort();

  const onCreate = (e: FormEvent) => {
    e.preventDefault();
    const t = topic.trim();
    const c = channel.trim();
    actions.run({
      fn: async () => {
        if (!validName(t)) throw new Error(`"${t}" is not a valid topic name`);
        if (c !== '' && !validName(c)) throw new Error(`"${c}" is not a valid channel name`);
        return api.create(t, c);
      },
      done: c ? `Created topic ${t} with channel ${c}.` : `Created topic ${t}.`,
      after: () => {
        setTopic('');
        setChannel('');
        poll.reload();
      },
    });
  };

  return (
    <section>
      <h2>Lookup</h2>
      {!hasLookupd ? (
        <Notice>nsqadmin is not configured with nsqlookupd hosts</Notice>
      ) : (
        <>
          <h3>nsqlookupd Hosts</h3>
          <ul className="hosts" data-testid="lookupd-hosts">
            {config.lookupd.map((h) => (
              <li key={h}>{h}</li>
            ))}
          </ul>
        </>
      )}
      {poll.error && <Banner kind="error">{poll.error}</Banner>}
      <MessageBanner message={poll.data?.message} />
      <ActionBanners state={actions} />

      {hasLookupd && (
        <>
          <h3>Inactive Topics and Channels</h3>
          <p className="muted small">Registered in nsqlookupd but with no nsqd producing them.</p>
          {poll.data && names.length === 0 && <Notice>No inactive topics.</Notice>}
          {names.length > 0 && (
            <ul className="inactive" data-testid="inactive-list">
              {names.map((t) => (
                <li key={t} data-testid={`inactive-topic-${t}`}>
                  {config.isAdmin && (
                    <button
                      type="button"
                      className="tombstone"
                      title={`delete topic ${t}`}
                      data-testid="delete-inactive-topic"
                      onClick={() =>
                        actions.run({
                          confirm: `Delete topic "${t}" from every nsqlookupd?`,
                          fn: () => api.deleteTopic(t),
                          done: `Topic ${t} deleted.`,
                          after: poll.reload,
                        })
                      }
                    >
                      ✘
                    </button>
                  )}{' '}
                  <Link to={{ page: 'topic', topic: t }}>{t}</Link>
                  {(inactive[t] ?? []).length > 0 && (
                    <ul>
                      {(inactive[t] ?? []).map((c) => (
                        <li key={c} data-testid={`inactive-channel-${t}-${c}`}>
                          {config.isAdmin && (
                            <button
                              type="button"
                              className="tombstone"
                              title={`delete channel ${c}`}
                              onClick={() =>
                                actions.run({
                                  confirm: `Delete channel "${c}" of topic "${t}" from every nsqlookupd?`,
                                  fn: () => api.deleteChannel(t, c),
                                  done: `Channel ${c} deleted.`,
                                  after: poll.reload,
                                })
                              }
                            >
                              ✘
                            </button>
                          )}{' '}
                          {c}
                        </li>
                      ))}
                    </ul>
                  )}
                </li>
              ))}
            </ul>
          )}

          {config.isAdmin && (
            <form className="create" onSubmit={onCreate} data-testid="create-form">
              <h3>Create Topic/Channel</h3>
              <p className="muted small">
                Registers the topic (and optionally a channel) in every nsqlookupd, so consumers can find it before
                anything is published. A channel is also created on every nsqd that already has the topic.
              </p>
              <label>
                Topic
                <input
                  name="topic"
                  value={topic}
                  onChange={(e) => setTopic(e.target.value)}
                  placeholder="topic name"
                  required
                  maxLength={64}
                  data-testid="create-topic"
                />
              </label>
              <label>
                Channel <span className="muted">(optional)</span>
                <input
                  name="channel"
                  value={channel}
                  onChange={(e) => setChannel(e.target.value)}
                  placeholder="channel name"
                  maxLength={64}
                  data-testid="create-channel"
                />
              </label>
              <button type="submit" className="btn btn-normal" disabled={actions.busy} data-testid="create-submit">
                Create
              </button>
            </form>
          )}
        </>
      )}
    </section>
  );
}
