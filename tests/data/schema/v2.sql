-- closeloop schema 2, written by the closeloop that released it (tests/data/schema/make_dump.py)
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES('created_by','closeloop');
CREATE TABLE workspaces (
      id INTEGER PRIMARY KEY,
      slug TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );
INSERT INTO workspaces VALUES(1,'demo','Demo',1796321380668);
CREATE TABLE api_keys (
      key_hash TEXT PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('admin', 'publishable')),
      prefix TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    ) WITHOUT ROWID;
INSERT INTO api_keys VALUES('5d3dc59e3ce30cf11398ee976bb7ea50cfaf39d5aa532371e7abd88d3a7afbbc',1,'publishable','cl_pub_c426595...',1796321380668,NULL);
INSERT INTO api_keys VALUES('c264b5f4a3f21ff495c5674b71ee2c78ecf5a12bdcdd2872a5d0c8f34fdc85fb',1,'admin','cl_admin_schem...',1796321380668,NULL);
CREATE TABLE settings (
      workspace_id INTEGER NOT NULL,
      name TEXT NOT NULL,
      value TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, name)
    ) WITHOUT ROWID;
CREATE TABLE contacts (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      email TEXT, first_name TEXT, last_name TEXT, locale TEXT, owner TEXT,
      vip INTEGER NOT NULL DEFAULT 0,
      tags TEXT NOT NULL DEFAULT '[]',
      attributes TEXT NOT NULL DEFAULT '{}',
      rfm_r INTEGER, rfm_f INTEGER, rfm_m INTEGER, rfm_segment TEXT,
      rfm_recency_days INTEGER, rfm_frequency INTEGER, rfm_monetary_cents INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
INSERT INTO contacts VALUES(1,'jana','jana@example.com','Jana','Novak',NULL,NULL,0,'["vip-club"]','{"city":"Brno"}',3,3,3,'Need Attention',31,1,12050,1796321381416,1796321381416);
CREATE TABLE events (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      type TEXT NOT NULL,
      contact_id TEXT NOT NULL,
      time INTEGER NOT NULL,
      received_at INTEGER NOT NULL,
      contact TEXT,
      data TEXT NOT NULL,
      processed_at INTEGER
    );
INSERT INTO events VALUES(1,1,'buy-1','purchase','jana',1793610000000,1796321381452,NULL,'{"amount":120.5,"currency":"EUR","order_id":"o-1"}',NULL);
INSERT INTO events VALUES(2,1,'visit-1','page_visit','jana',1793696400000,1796321381452,NULL,'{"page":"/pricing"}',NULL);
INSERT INTO events VALUES(3,1,'nps-1','nps_response','jana',1793782800000,1796321381452,NULL,'{"comment":"slow delivery","score":3}',NULL);
INSERT INTO events VALUES(4,1,'voucher_assigned:AS49-AX2X-K8VT-QVFX','voucher_assigned','jana',1796321381465,1796321381465,NULL,'{"campaign":"sorry-10","code":"AS49-AX2X-K8VT-QVFX","currency":"EUR","expires_at":"2027-02-03T18:09:41.465Z","value":10.0}',NULL);
CREATE TABLE responses (
      workspace_id INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('nps', 'csat')),
      time INTEGER NOT NULL,
      event_seq INTEGER NOT NULL,
      event_id TEXT NOT NULL,
      contact_id TEXT NOT NULL,
      score INTEGER NOT NULL,
      survey TEXT, channel TEXT, comment TEXT, agent TEXT, ticket_id TEXT, topic TEXT,
      PRIMARY KEY (workspace_id, kind, time, event_seq)
    ) WITHOUT ROWID;
INSERT INTO responses VALUES(1,'nps',1793782800000,3,'nps-1','jana',3,NULL,NULL,'slow delivery',NULL,NULL,NULL);
CREATE TABLE purchases (
      workspace_id INTEGER NOT NULL,
      time INTEGER NOT NULL,
      event_seq INTEGER NOT NULL,
      contact_id TEXT NOT NULL,
      amount REAL NOT NULL,
      currency TEXT NOT NULL,
      PRIMARY KEY (workspace_id, time, event_seq)
    ) WITHOUT ROWID;
INSERT INTO purchases VALUES(1,1793610000000,1,'jana',120.5,'EUR');
CREATE TABLE voucher_campaigns (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
INSERT INTO voucher_campaigns VALUES(1,'sorry-10','{"currency":"EUR","id":"sorry-10","name":"Sorry, 10 EUR","scope":{"brands":[],"product_groups":[],"products":[]},"valid_for":"P2M","value":10.0}',1796321381406,1796321381406);
CREATE TABLE vouchers (
      workspace_id INTEGER NOT NULL,
      code TEXT NOT NULL,
      campaign_id TEXT NOT NULL,
      contact_id TEXT NOT NULL,
      value REAL NOT NULL,
      currency TEXT NOT NULL,
      percent REAL NOT NULL,
      assigned_at INTEGER NOT NULL,
      expires_at INTEGER,
      redeemed_at INTEGER,
      assign_key TEXT,
      PRIMARY KEY (workspace_id, code)
    ) WITHOUT ROWID;
INSERT INTO vouchers VALUES(1,'AS49-AX2X-K8VT-QVFX','sorry-10','jana',10.0,'EUR',0.0,1796321381465,1801678181465,NULL,NULL);
CREATE TABLE tasks (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      role TEXT, assignee TEXT,
      title TEXT NOT NULL,
      message TEXT NOT NULL DEFAULT '',
      contact_id TEXT, run_id TEXT, effect_key TEXT,
      status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
      created_at INTEGER NOT NULL,
      due_at INTEGER,
      done_at INTEGER
    );
INSERT INTO tasks VALUES(1,1,'task_bb2f6aa3b035788409f2','call_center_agent',NULL,'Ring Jana','','jana',NULL,NULL,'open',1796321381468,NULL,NULL);
CREATE TABLE outbox (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      key TEXT NOT NULL,
      kind TEXT NOT NULL,
      contact_id TEXT, run_id TEXT,
      params TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dead')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER,
      last_error TEXT,
      created_at INTEGER NOT NULL,
      sent_at INTEGER
    );
CREATE TABLE outbox_attempts (
      seq INTEGER PRIMARY KEY,
      outbox_seq INTEGER NOT NULL,
      workspace_id INTEGER NOT NULL,
      at INTEGER NOT NULL,
      ok INTEGER NOT NULL,
      detail TEXT NOT NULL DEFAULT ''
    );
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);
CREATE INDEX contacts_segment ON contacts (workspace_id, rfm_segment) WHERE rfm_segment IS NOT NULL;
CREATE UNIQUE INDEX events_id ON events (workspace_id, id);
CREATE INDEX events_time ON events (workspace_id, time, seq);
CREATE INDEX events_contact ON events (workspace_id, contact_id, time, seq);
CREATE INDEX events_type ON events (workspace_id, type, time, seq);
CREATE INDEX events_unprocessed ON events (seq) WHERE processed_at IS NULL;
CREATE INDEX vouchers_assigned ON vouchers (workspace_id, assigned_at);
CREATE INDEX vouchers_contact ON vouchers (workspace_id, contact_id, assigned_at);
CREATE INDEX vouchers_campaign_contact ON vouchers (workspace_id, campaign_id, contact_id, assigned_at);
CREATE UNIQUE INDEX vouchers_key ON vouchers (workspace_id, assign_key) WHERE assign_key IS NOT NULL;
CREATE UNIQUE INDEX tasks_id ON tasks (workspace_id, id);
CREATE UNIQUE INDEX tasks_key ON tasks (workspace_id, effect_key) WHERE effect_key IS NOT NULL;
CREATE INDEX tasks_workspace ON tasks (workspace_id, seq);
CREATE INDEX tasks_role ON tasks (workspace_id, role, seq);
CREATE INDEX tasks_role_status ON tasks (workspace_id, role, status, seq);
CREATE INDEX tasks_status ON tasks (workspace_id, status, seq);
CREATE INDEX tasks_contact ON tasks (workspace_id, contact_id, status);
CREATE UNIQUE INDEX outbox_key ON outbox (workspace_id, key);
CREATE INDEX outbox_workspace ON outbox (workspace_id, seq);
CREATE INDEX outbox_status ON outbox (workspace_id, status, seq);
CREATE INDEX outbox_status_kind ON outbox (workspace_id, status, kind, seq);
CREATE INDEX outbox_kind ON outbox (workspace_id, kind, seq);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX outbox_contact ON outbox (workspace_id, contact_id);
CREATE INDEX outbox_attempts_entry ON outbox_attempts (outbox_seq, seq);
COMMIT;
PRAGMA user_version = 2;
