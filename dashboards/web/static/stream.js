// A resumable subscription to GET /api/v1/stream. Messages are
// {type, seq, data}; after a drop it reconnects with ?since=SEQ&epoch=EPOCH
// and the server replays what was missed, or answers "reset" when it no
// longer holds it (the page then reloads its snapshot and follows on).

export class LiveStream {
  // handlers: onMessage(m) for alert, incident and health messages;
  // onStatus('connecting' | 'live' | 'offline'); onReset() after a reset;
  // onSignedOut() when the session is gone.
  constructor(handlers) {
    this.h = handlers;
    this.seq = 0;
    this.epoch = '';
    this.retry = 0;
  }

  // start follows the stream from position seq of epoch (from a snapshot).
  start(seq, epoch) {
    this.advance(seq, epoch);
    this.connect();
  }

  // startFresh follows the stream from the hub's current position, for a
  // page that loads its own state and needs only what happens next.
  startFresh() {
    this.fresh = true;
    this.connect();
  }

  // advance moves the position forward (a newer snapshot).
  advance(seq, epoch) {
    if (epoch !== this.epoch || seq > this.seq) {
      this.seq = seq;
      this.epoch = epoch;
    }
  }

  connect() {
    this.h.onStatus('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = this.fresh ? '' : `?${new URLSearchParams({ since: String(this.seq), epoch: this.epoch })}`;
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/stream${q}`);
    ws.onmessage = (ev) => this.handle(JSON.parse(ev.data));
    ws.onclose = () => {
      this.h.onStatus('offline');
      const delay = Math.min(30000, 1000 * 2 ** this.retry++);
      setTimeout(() => this.reconnect(), delay);
    };
  }

  handle(m) {
    switch (m.type) {
      case 'hello':
        this.epoch = m.data.epoch;
        if (this.fresh) {
          this.fresh = false;
          this.seq = m.seq;
        }
        this.retry = 0;
        this.h.onStatus('live');
        return;
      case 'reset':
        this.epoch = m.data.epoch;
        this.seq = m.seq;
        this.retry = 0;
        this.h.onStatus('live');
        this.h.onReset();
        return;
    }
    if (m.seq > this.seq) this.seq = m.seq;
    this.h.onMessage(m);
  }

  async reconnect() {
    // A refused websocket hides its status: ask whether we are still
    // signed in before trying again.
    try {
      const r = await fetch('/console/live.json', { method: 'HEAD', credentials: 'same-origin', cache: 'no-store' });
      if (r.status === 401 || r.status === 403) {
        this.h.onSignedOut();
        return;
      }
    } catch {
      // The server is away: the websocket will fail and back off.
    }
    this.connect();
  }
}
