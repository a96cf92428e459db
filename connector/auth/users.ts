// The one spelling of a vCenter user lives in the contract, so the UI compares names by the same rule.
export { normalizeUserName } from '../contract/identity.ts';
