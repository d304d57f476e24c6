import { useFreshSqlite } from "./fresh-sqlite.js";
import { describeTaskStoreContract } from "./store-contract.js";

// Each test gets a migrated SQLite file of its own (a copy of one template migrated once for this file).
const sqlite = useFreshSqlite();

describeTaskStoreContract("SQLite", () => sqlite.open());
