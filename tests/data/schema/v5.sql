-- closeloop schema 5, written by the closeloop that released it (tests/data/schema/make_dump.py)
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
INSERT INTO workspaces VALUES(1,'demo','Demo',1796327254389);
CREATE TABLE api_keys (
      key_hash TEXT PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('admin', 'publishable')),
      prefix TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    , id TEXT) WITHOUT ROWID;
INSERT INTO api_keys VALUES('37f7c82904db96fecfd319e0c5fb7ba20ee967e21103123ffbfd2750af52d2de',1,'publishable','cl_pub_15caf1e...',1796327254389,NULL,'key_37f7c82904db');
INSERT INTO api_keys VALUES('c264b5f4a3f21ff495c5674b71ee2c78ecf5a12bdcdd2872a5d0c8f34fdc85fb',1,'admin','cl_admin_schem...',1796327254389,NULL,'key_c264b5f4a3f2');
INSERT INTO api_keys VALUES('c7aa90f33626af85916e5ef3e58149edde9de43973ea84b2a1086d43ae1d0191',1,'admin','revoked-dump-k...',1796327254609,1796327254739,'key_c7aa90f33626');
CREATE TABLE settings (
      workspace_id INTEGER NOT NULL,
      name TEXT NOT NULL,
      value TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, name)
    ) WITHOUT ROWID;
INSERT INTO settings VALUES(1,'rfm_edges','{"f":[1,1,null,null],"grid":{"rows":{"1":["Lost","Lost","At Risk","Cannot Lose","Cannot Lose"],"2":["Hibernating","Hibernating","At Risk","At Risk","Cannot Lose"],"3":["Promising","About to Sleep","Need Attention","Loyal","Loyal"],"4":["Promising","Potential Loyalist","Potential Loyalist","Loyal","Champions"],"5":["New Customers","Potential Loyalist","Potential Loyalist","Champions","Champions"]}},"m":[12050,12050,null,null],"r":[-31,-31,null,null],"window_days":365}',1796327254514);
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
INSERT INTO contacts VALUES(1,'jana','jana@example.com','Jana','Novak',NULL,NULL,0,'["vip-club"]','{"city":"Brno"}',3,3,3,'Need Attention',31,1,12050,1796327254481,1796327254481);
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
INSERT INTO events VALUES(1,1,'buy-1','purchase','jana',1793610000000,1796327254485,NULL,'{"amount":120.5,"currency":"EUR","order_id":"o-1"}',1796327254485);
INSERT INTO events VALUES(2,1,'visit-1','page_visit','jana',1793696400000,1796327254485,NULL,'{"page":"/pricing"}',1796327254485);
INSERT INTO events VALUES(3,1,'nps-1','nps_response','jana',1793782800000,1796327254485,NULL,'{"comment":"slow delivery","score":3}',1796327254485);
INSERT INTO events VALUES(4,1,'voucher_assigned:6QG2-SNFA-PNXT-6SCK','voucher_assigned','jana',1796327254496,1796327254496,NULL,'{"campaign":"sorry-10","code":"6QG2-SNFA-PNXT-6SCK","currency":"EUR","expires_at":"2027-02-03T19:47:34.496Z","value":10.0}',1796327254500);
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
INSERT INTO voucher_campaigns VALUES(1,'sorry-10','{"currency":"EUR","id":"sorry-10","name":"Sorry, 10 EUR","scope":{"brands":[],"product_groups":[],"products":[]},"valid_for":"P2M","value":10.0}',1796327254459,1796327254459);
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
INSERT INTO vouchers VALUES(1,'6QG2-SNFA-PNXT-6SCK','sorry-10','jana',10.0,'EUR',0.0,1796327254496,1801684054496,NULL,NULL);
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
INSERT INTO tasks VALUES(1,1,'task_9c51b889f12d92205522','care_manager',NULL,'Call Jana','','jana','run_a45d23665ef7233bd026','run_a45d23665ef7233bd026/call','open',1793782800000,NULL,NULL);
INSERT INTO tasks VALUES(2,1,'task_970a2307b3973b44ac91','call_center_agent',NULL,'Ring Jana','','jana',NULL,NULL,'open',1796327254505,NULL,NULL);
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
INSERT INTO outbox VALUES(1,1,'run_a45d23665ef7233bd026/mail','send_email','jana','run_a45d23665ef7233bd026','{"locale":"","template":"sorry","to":"jana@example.com"}','pending',0,1793782800000,NULL,1793782800000,NULL);
CREATE TABLE outbox_attempts (
      seq INTEGER PRIMARY KEY,
      outbox_seq INTEGER NOT NULL,
      workspace_id INTEGER NOT NULL,
      at INTEGER NOT NULL,
      ok INTEGER NOT NULL,
      detail TEXT NOT NULL DEFAULT ''
    );
CREATE TABLE scenarios (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      version INTEGER NOT NULL,
      status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused')),
      activated INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
INSERT INTO scenarios VALUES(1,'detractors',1,'active',1,1796327254468,1796327254478);
INSERT INTO scenarios VALUES(1,'drafty',2,'draft',0,1796327254537,1796327254548);
CREATE TABLE scenario_versions (
      workspace_id INTEGER NOT NULL,
      scenario_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL, status TEXT,
      PRIMARY KEY (workspace_id, scenario_id, version)
    ) WITHOUT ROWID;
INSERT INTO scenario_versions VALUES(1,'detractors',1,'{"id":"detractors","name":"Detractors get a call","nodes":[{"action":"create_task","id":"call","next":"mail","params":{"assignee":"care_manager","title":"Call {{contact.first_name}}"},"type":"action"},{"action":"send_email","id":"mail","next":"later","params":{"template":"sorry"},"type":"action"},{"for":"P90D","id":"later","next":"check","type":"wait"},{"action":"create_task","id":"check","next":null,"params":{"assignee":"care_manager","title":"Check on {{contact.first_name}}"},"type":"action"}],"start":"call","trigger":{"event":"nps_response","when":"event.score < 7"}}',1796327254468,'active');
INSERT INTO scenario_versions VALUES(1,'drafty',1,'{"id":"drafty","name":"Drafty","nodes":[{"action":"add_tag","id":"t","next":null,"params":{"tag":"x"},"type":"action"}],"start":"t","trigger":{"event":"nps_response"}}',1796327254537,'draft');
INSERT INTO scenario_versions VALUES(1,'drafty',2,'{"id":"drafty","name":"Drafty 2","nodes":[{"action":"add_tag","id":"t","next":null,"params":{"tag":"x"},"type":"action"}],"start":"t","trigger":{"event":"nps_response"}}',1796327254548,'draft');
CREATE TABLE templates (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
INSERT INTO templates VALUES(1,'sorry','{"fallback_locale":"en","from":"Care <care@example.com>","id":"sorry","locales":{"en":{"html":"<p>We are sorry.</p>","subject":"Sorry, {{contact.first_name}}","text":"We are sorry."}},"name":"Sorry"}',1796327254466,1796327254466);
CREATE TABLE runs (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      scenario_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      contact_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('waiting', 'done', 'failed')),
      wake_at INTEGER,
      error TEXT,
      state TEXT NOT NULL,
      trace TEXT NOT NULL,
      effects TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
INSERT INTO runs VALUES(1,1,'run_a45d23665ef7233bd026','detractors',1,'jana','nps-1','waiting',1801558800000,NULL,'{"contact":"jana","event":{"contact":{"id":"jana"},"data":{"comment":"slow delivery","score":3},"id":"nps-1","time":"2026-11-04T09:00:00Z","type":"nps_response"},"id":"run_a45d23665ef7233bd026","path":["call","mail","later"],"resume_at":"check","scenario":"detractors","scenario_version":1,"started_at":"2026-11-04T09:00:00Z","status":"waiting","voucher":null,"wake_at":"2027-02-02T09:00:00Z"}','[{"at":"2026-11-04T09:00:00Z","next":"mail","node":"call","outcome":"effect","values":{}},{"at":"2026-11-04T09:00:00Z","next":"later","node":"mail","outcome":"effect","values":{}},{"at":"2026-11-04T09:00:00Z","next":"check","node":"later","outcome":"waiting","values":{"for":"P90D"}}]','[{"contact":"jana","key":"run_a45d23665ef7233bd026/call","kind":"create_task","node":"call","params":{"assignee":"care_manager","title":"Call Jana"}},{"contact":"jana","key":"run_a45d23665ef7233bd026/mail","kind":"send_email","node":"mail","params":{"locale":"","template":"sorry","to":"jana@example.com"}}]',1793782800000,1793782800000);
CREATE TABLE sessions (
      token_hash TEXT PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      key_id TEXT NOT NULL,
      csrf_token TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      last_seen_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
INSERT INTO sessions VALUES('fe23ea9e9cedba15fdf3a39cf5fcff45cd8c8c67d078738650e8d2efac489205',1,'key_c264b5f4a3f2','b29340c6ae9a325eb9ad62af13431d35d734f11a8252f9d01a9064c1bc18b56c',1796327254558,1796327254558,1796932054558);
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
CREATE INDEX scenarios_active ON scenarios (status, workspace_id, id) WHERE status = 'active';
CREATE UNIQUE INDEX runs_id ON runs (workspace_id, id);
CREATE INDEX runs_due ON runs (wake_at) WHERE status = 'waiting';
CREATE INDEX runs_workspace ON runs (workspace_id, seq);
CREATE INDEX runs_scenario ON runs (workspace_id, scenario_id, seq);
CREATE INDEX runs_contact ON runs (workspace_id, contact_id, seq);
CREATE INDEX runs_status ON runs (workspace_id, status, seq);
CREATE INDEX runs_scenario_contact ON runs (workspace_id, scenario_id, contact_id, created_at, status);
CREATE UNIQUE INDEX api_keys_id ON api_keys (workspace_id, id);
CREATE INDEX sessions_key ON sessions (workspace_id, key_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
COMMIT;
PRAGMA user_version = 5;
