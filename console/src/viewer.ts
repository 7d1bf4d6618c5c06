// Who is signed in, as the graph says (viewer), and whether the console offers them actions that change records.
export interface Viewer {
  subject: string;
  name: string;
  /** The Role enum's values: FINANCE, CUSTOMER_SUCCESS, PRODUCT, INTERNAL_TOOL, PLATFORM. */
  roles: string[];
}

/** Roles whose contract includes changing billing records; the graph refuses everyone else anyway. */
export const mayAct = (viewer: Viewer) => viewer.roles.some((r) => r === 'FINANCE' || r === 'PLATFORM');
