import { contractSuite, slices } from "./contract";

await contractSuite("accounts", slices.accounts);
