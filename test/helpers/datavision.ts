/** Primary key of each DataVision table (as in schemas/datavision.yaml), for ordering and comparing rows. */
export const KEYS: Readonly<Record<string, string>> = {
  accounts: 'account_id',
  subscriptions: 'subscription_id',
  accounts_subscription: 'account_subscription_id',
  contents: 'content_id',
  content_attributes: 'attribute_id',
  premium_features: 'feature_id',
  account_premium_features: 'account_feature_id',
  subscription_payments: 'payment_id',
};

/** The 7 DataVision relationships (as in schemas/datavision.yaml): child table, column → parent table, column. */
export const RELATIONSHIPS: readonly (readonly [string, string, string, string])[] = [
  ['contents', 'account_id', 'accounts', 'account_id'],
  ['content_attributes', 'content_id', 'contents', 'content_id'],
  ['accounts_subscription', 'account_id', 'accounts', 'account_id'],
  ['accounts_subscription', 'subscription_id', 'subscriptions', 'subscription_id'],
  ['subscription_payments', 'account_subscription_id', 'accounts_subscription', 'account_subscription_id'],
  ['account_premium_features', 'account_id', 'accounts', 'account_id'],
  ['account_premium_features', 'feature_id', 'premium_features', 'feature_id'],
];
