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
