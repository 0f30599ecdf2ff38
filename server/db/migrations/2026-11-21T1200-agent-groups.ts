// Frozen: agent groups, named sets of one team's agents, and their memberships. A membership goes with
// its group or its agent (ON DELETE CASCADE); a group goes with its team.
import { sql, type Kysely } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('agent_groups')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('team_id', 'uuid', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('description', 'varchar(500)')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // A name is unique within its team, regardless of case.
  await sql`create unique index agent_groups_team_name_key on agent_groups (team_id, lower(name))`.execute(db);
  await db.schema.createIndex('agent_groups_team_created_idx').on('agent_groups').columns(['team_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('agent_group_members')
    .addColumn('group_id', 'uuid', (c) => c.notNull().references('agent_groups.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('added_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('agent_group_members_pkey', ['group_id', 'agent_id'])
    .execute();
  // The agent side of the key: cascades from agents, and "the groups of an agent".
  await db.schema.createIndex('agent_group_members_agent_idx').on('agent_group_members').columns(['agent_id', 'group_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['agent_group_members', 'agent_groups']) await db.schema.dropTable(table).execute();
}
