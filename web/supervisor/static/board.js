// The wallboard's data, kept in step with the server's (web/supervisor/board.py: `apply`):
// a snapshot replaces the board, a delta changes only the rows and fields it names. A delta
// whose number does not follow the last one means one was lost: ask for a snapshot again.

export class Board {
  constructor() {
    this.data = {queues: {}, agents: {}, channels: {}, calls: {}};
    this.seq = null;
    this.snapshots = 0;
    this.deltas = 0;
  }

  /** Take a message from the socket; false when it does not follow (resynchronise). */
  take(msg) {
    if (msg.type === "snapshot") {
      this.data = {queues: {}, agents: {}, channels: {}, calls: {}, ...msg.board};
      this.seq = msg.seq;
      this.snapshots += 1;
      return true;
    }
    if (msg.type !== "delta") return true;
    if (this.seq === null || msg.seq !== this.seq + 1) return false;
    for (const [name, keys] of Object.entries(msg.removed || {})) {
      const section = this.data[name] || {};
      for (const key of keys) delete section[key];
    }
    for (const [name, rows] of Object.entries(msg.changed || {})) {
      const section = this.data[name] || (this.data[name] = {});
      for (const [key, fields] of Object.entries(rows)) {
        const row = section[key] || (section[key] = {});
        for (const [field, value] of Object.entries(fields)) {
          if (value === null) delete row[field];
          else row[field] = value;
        }
      }
    }
    this.seq = msg.seq;
    this.deltas += 1;
    return true;
  }
}
