-- closeloop schema 6, written by the closeloop that released it (tests/data/schema/make_dump.py)
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
INSERT INTO workspaces VALUES(1,'demo','Demo',1796684247921);
CREATE TABLE api_keys (
      key_hash TEXT PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('admin', 'publishable')),
      prefix TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER
    , id TEXT) WITHOUT ROWID;
INSERT INTO api_keys VALUES('162accb9191b93d0402463343c27ef0a5d57917aa32dbcb6b45f0b283ee2e3df',1,'publishable','cl_pub_e497533...',1796684247921,NULL,'key_162accb9191b');
INSERT INTO api_keys VALUES('c264b5f4a3f21ff495c5674b71ee2c78ecf5a12bdcdd2872a5d0c8f34fdc85fb',1,'admin','cl_admin_schem...',1796684247921,NULL,'key_c264b5f4a3f2');
INSERT INTO api_keys VALUES('c7aa90f33626af85916e5ef3e58149edde9de43973ea84b2a1086d43ae1d0191',1,'admin','revoked-dump-k...',1796684248012,1796684248077,'key_c7aa90f33626');
CREATE TABLE settings (
      workspace_id INTEGER NOT NULL,
      name TEXT NOT NULL,
      value TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, name)
    ) WITHOUT ROWID;
INSERT INTO settings VALUES(1,'link_secret','"f312da4d8e9ccc73ec8ee3e2c0eb1c3a8488ea64ea1d1880e956c16f9ee828f3"',1796684247921);
INSERT INTO settings VALUES(1,'rfm_edges','{"f":[1,1,null,null],"grid":{"rows":{"1":["Lost","Lost","At Risk","Cannot Lose","Cannot Lose"],"2":["Hibernating","Hibernating","At Risk","At Risk","Cannot Lose"],"3":["Promising","About to Sleep","Need Attention","Loyal","Loyal"],"4":["Promising","Potential Loyalist","Potential Loyalist","Loyal","Champions"],"5":["New Customers","Potential Loyalist","Potential Loyalist","Champions","Champions"]}},"m":[12050,12050,null,null],"r":[-35,-35,null,null],"window_days":365}',1796684247969);
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
INSERT INTO contacts VALUES(1,'jana','jana@example.com','Jana','Novak',NULL,NULL,0,'["vip-club"]','{"city":"Brno"}',3,3,3,'Need Attention',35,1,12050,1796684247961,1796684247961);
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
INSERT INTO events VALUES(1,1,'buy-1','purchase','jana',1793610000000,1796684247963,NULL,'{"amount":120.5,"currency":"EUR","order_id":"o-1"}',1796684247963);
INSERT INTO events VALUES(2,1,'visit-1','page_visit','jana',1793696400000,1796684247963,NULL,'{"page":"/pricing"}',1796684247963);
INSERT INTO events VALUES(3,1,'nps-1','nps_response','jana',1793782800000,1796684247963,NULL,'{"comment":"slow delivery","score":3}',1796684247963);
INSERT INTO events VALUES(4,1,'voucher_assigned:Y1MD-BXPJ-BK8S-R9NK','voucher_assigned','jana',1796684247967,1796684247967,NULL,'{"campaign":"sorry-10","code":"Y1MD-BXPJ-BK8S-R9NK","currency":"EUR","expires_at":"2027-02-07T22:57:27.967Z","value":10.0}',1796684247968);
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
INSERT INTO voucher_campaigns VALUES(1,'sorry-10','{"currency":"EUR","id":"sorry-10","name":"Sorry, 10 EUR","scope":{"brands":[],"product_groups":[],"products":[]},"valid_for":"P2M","value":10.0}',1796684247953,1796684247953);
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
INSERT INTO vouchers VALUES(1,'Y1MD-BXPJ-BK8S-R9NK','sorry-10','jana',10.0,'EUR',0.0,1796684247967,1802041047967,NULL,NULL);
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
INSERT INTO tasks VALUES(1,1,'task_a11ace233217c67f4dda','care_manager',NULL,'Call Jana','','jana','run_7ff1a1f9ea86d6c255ed','run_7ff1a1f9ea86d6c255ed/call','open',1793782800000,NULL,NULL);
INSERT INTO tasks VALUES(2,1,'task_503de1cf51dd58d775cd','call_center_agent',NULL,'Ring Jana','','jana',NULL,NULL,'open',1796684247968,NULL,NULL);
CREATE TABLE outbox_attempts (
      seq INTEGER PRIMARY KEY,
      outbox_seq INTEGER NOT NULL,
      workspace_id INTEGER NOT NULL,
      at INTEGER NOT NULL,
      ok INTEGER NOT NULL,
      detail TEXT NOT NULL DEFAULT ''
    , status_code INTEGER NOT NULL DEFAULT 0, duration_ms INTEGER NOT NULL DEFAULT 0);
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
INSERT INTO scenarios VALUES(1,'detractors',1,'active',1,1796684247957,1796684247960);
INSERT INTO scenarios VALUES(1,'drafty',2,'draft',0,1796684247978,1796684247979);
CREATE TABLE scenario_versions (
      workspace_id INTEGER NOT NULL,
      scenario_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL, status TEXT,
      PRIMARY KEY (workspace_id, scenario_id, version)
    ) WITHOUT ROWID;
INSERT INTO scenario_versions VALUES(1,'detractors',1,'{"id":"detractors","name":"Detractors get a call","nodes":[{"action":"create_task","id":"call","next":"mail","params":{"assignee":"care_manager","title":"Call {{contact.first_name}}"},"type":"action"},{"action":"send_email","id":"mail","next":"later","params":{"template":"sorry"},"type":"action"},{"for":"P90D","id":"later","next":"check","type":"wait"},{"action":"create_task","id":"check","next":null,"params":{"assignee":"care_manager","title":"Check on {{contact.first_name}}"},"type":"action"}],"start":"call","trigger":{"event":"nps_response","when":"event.score < 7"}}',1796684247957,'active');
INSERT INTO scenario_versions VALUES(1,'drafty',1,'{"id":"drafty","name":"Drafty","nodes":[{"action":"add_tag","id":"t","next":null,"params":{"tag":"x"},"type":"action"}],"start":"t","trigger":{"event":"nps_response"}}',1796684247978,'draft');
INSERT INTO scenario_versions VALUES(1,'drafty',2,'{"id":"drafty","name":"Drafty 2","nodes":[{"action":"add_tag","id":"t","next":null,"params":{"tag":"x"},"type":"action"}],"start":"t","trigger":{"event":"nps_response"}}',1796684247979,'draft');
CREATE TABLE templates (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      doc TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
INSERT INTO templates VALUES(1,'sorry','{"fallback_locale":"en","from":"Care <care@example.com>","id":"sorry","locales":{"en":{"html":"<p>We are sorry.</p>","subject":"Sorry, {{contact.first_name}}","text":"We are sorry."}},"name":"Sorry"}',1796684247956,1796684247956);
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
INSERT INTO runs VALUES(1,1,'run_7ff1a1f9ea86d6c255ed','detractors',1,'jana','nps-1','waiting',1801558800000,NULL,'{"contact":"jana","event":{"contact":{"id":"jana"},"data":{"comment":"slow delivery","score":3},"id":"nps-1","time":"2026-11-04T09:00:00Z","type":"nps_response"},"id":"run_7ff1a1f9ea86d6c255ed","path":["call","mail","later"],"resume_at":"check","scenario":"detractors","scenario_version":1,"started_at":"2026-11-04T09:00:00Z","status":"waiting","voucher":null,"wake_at":"2027-02-02T09:00:00Z"}','[{"at":"2026-11-04T09:00:00Z","next":"mail","node":"call","outcome":"effect","values":{}},{"at":"2026-11-04T09:00:00Z","next":"later","node":"mail","outcome":"effect","values":{}},{"at":"2026-11-04T09:00:00Z","next":"check","node":"later","outcome":"waiting","values":{"for":"P90D"}}]','[{"contact":"jana","key":"run_7ff1a1f9ea86d6c255ed/call","kind":"create_task","node":"call","params":{"assignee":"care_manager","title":"Call Jana"}},{"contact":"jana","key":"run_7ff1a1f9ea86d6c255ed/mail","kind":"send_email","node":"mail","params":{"locale":"","template":"sorry","to":"jana@example.com"}}]',1793782800000,1793782800000);
CREATE TABLE sessions (
      token_hash TEXT PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      key_id TEXT NOT NULL,
      csrf_token TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      last_seen_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
INSERT INTO sessions VALUES('b46fb2c69b3d716a5dc4934c8c09f9157de10b6633504cab2994530fea64d6f5',1,'key_c264b5f4a3f2','39191c5192a603b6dafb9dd2568cdeef7af35e024910a45e56b5ca9243fc51ee',1796684247981,1796684247981,1797289047981);
CREATE TABLE IF NOT EXISTS "outbox" (
      seq INTEGER PRIMARY KEY,
      workspace_id INTEGER NOT NULL,
      key TEXT NOT NULL,
      kind TEXT NOT NULL,
      contact_id TEXT, run_id TEXT,
      params TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed', 'dead', 'suppressed')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER,
      last_error TEXT,
      created_at INTEGER NOT NULL,
      sent_at INTEGER,
      claimed_until INTEGER,
      endpoint_id TEXT,
      marketing INTEGER NOT NULL DEFAULT 0,
      address TEXT
    );
INSERT INTO outbox VALUES(1,1,'run_7ff1a1f9ea86d6c255ed/mail','send_email','jana','run_7ff1a1f9ea86d6c255ed','{"locale":"","message":{"cc":[],"dir":"ltr","from":"Care <care@example.com>","html":"<p>We are sorry.</p>","locale":"en","marketing":true,"subject":"Sorry, Jana","text":"We are sorry.","to":"jana@example.com","unsubscribe_url":"http://127.0.0.1:35507/unsubscribe/eyJhIjoiamFuYUBleGFtcGxlLmNvbSIsImMiOiJqYW5hIiwidyI6MX0.i_xjSP1V6--CF91tELgNCA"},"template":"sorry","to":"jana@example.com"}','pending',0,1793782800000,NULL,1793782800000,NULL,NULL,NULL,1,'jana@example.com');
CREATE TABLE endpoints (
      workspace_id INTEGER NOT NULL,
      id TEXT NOT NULL,
      name TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('slack', 'teams', 'generic')),
      url TEXT NOT NULL,
      secret TEXT NOT NULL,
      previous_secret TEXT,
      previous_until INTEGER,
      rate_per_second REAL NOT NULL DEFAULT 0,
      disabled_at INTEGER,
      disabled_reason TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, id)
    ) WITHOUT ROWID;
INSERT INTO endpoints VALUES(1,'hooks','Helpdesk','generic','http://127.0.0.1:9/hook','whsec_Ep0g/ok87VReOhBu19LJWe18MgbuoKvD',NULL,NULL,0.0,NULL,NULL,1796684248089,1796684248089);
CREATE TABLE suppressions (
      workspace_id INTEGER NOT NULL,
      address TEXT NOT NULL,
      reason TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced')),
      contact_id TEXT,
      detail TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      PRIMARY KEY (workspace_id, address)
    ) WITHOUT ROWID;
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
CREATE UNIQUE INDEX outbox_key ON outbox (workspace_id, key);
CREATE INDEX outbox_workspace ON outbox (workspace_id, seq);
CREATE INDEX outbox_status ON outbox (workspace_id, status, seq);
CREATE INDEX outbox_status_kind ON outbox (workspace_id, status, kind, seq);
CREATE INDEX outbox_kind ON outbox (workspace_id, kind, seq);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX outbox_contact ON outbox (workspace_id, contact_id);
CREATE INDEX outbox_marketing ON outbox (workspace_id, contact_id, created_at)
      WHERE marketing = 1 AND status <> 'suppressed';
CREATE INDEX outbox_endpoint ON outbox (workspace_id, endpoint_id, status) WHERE endpoint_id IS NOT NULL;
COMMIT;
PRAGMA user_version = 6;
