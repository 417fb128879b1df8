/**
 * Features of the demo shop's customers, from app events, the shop database (CDC, declared in
 * src/demo/shop-sources.json) and the HubSpot CRM export.
 */
import {
  allEvents, avg, cdc, count, crm, daysSince, defineFeatures, distinctCount, div, eq, events, exists, feature, gte, identifies, last, latest, max, min,
  field, mostFrequent, sum,
} from '../dsl.ts';

const orders = events('Order Completed');

export default defineFeatures({
  owner: 'growth-analytics',
  tags: ['shop'],
  features: {
    // ---- orders (app events) ----
    orders_30d: { description: 'Orders completed in the last 30 days', type: 'int', from: orders, aggregate: count(), window: '30d' },
    orders_lifetime: { description: 'Orders completed ever', type: 'int', from: orders, aggregate: count() },
    revenue_30d: { description: 'Revenue (USD) of orders in the last 30 days', type: 'float', from: orders, aggregate: sum('properties.revenue'), window: '30d', default: 0 },
    revenue_lifetime: { description: 'Revenue (USD) of all orders', type: 'float', from: orders, aggregate: sum('properties.revenue'), default: 0 },
    average_order_value: { description: 'Average revenue per order, all time', type: 'float', from: orders, aggregate: avg('properties.revenue') },
    largest_order: { description: 'Revenue of the largest order', type: 'float', from: orders, aggregate: max('properties.revenue') },
    first_order_at: { description: 'Time of the first order', type: 'timestamp', from: orders, aggregate: min('timestamp') },
    last_order_at: { description: 'Time of the latest order', type: 'timestamp', from: orders, aggregate: max('timestamp') },
    days_since_last_order: { description: 'Whole days since the latest order', type: 'int', derive: daysSince(feature('last_order_at')) },
    has_ordered: { description: 'Has completed at least one order', type: 'bool', from: orders, aggregate: exists() },
    big_spender: { description: 'Lifetime revenue of 500 USD or more', type: 'bool', derive: gte(feature('revenue_lifetime'), 500), tags: ['segmentation'] },
    // ---- engagement ----
    last_seen_at: { description: 'Time of the latest call of any kind', type: 'timestamp', from: allEvents(), aggregate: max('timestamp') },
    first_seen_at: { description: 'Time of the first call of any kind', type: 'timestamp', from: allEvents(), aggregate: min('timestamp') },
    sessions_7d: { description: 'Sessions started in the last 7 days', type: 'int', from: events('Session Started'), aggregate: count(), window: '7d' },
    products_viewed_30d: { description: 'Distinct products viewed in the last 30 days', type: 'int', from: events('Product Viewed'), aggregate: distinctCount('properties.product_id'), window: '30d' },
    favourite_category: { description: 'Category viewed or ordered most often', type: 'string', from: events(['Product Viewed', 'Order Completed']), aggregate: mostFrequent('properties.category') },
    cart_to_order_rate: { description: 'Orders per product added to a cart', type: 'float', derive: div(feature('orders_lifetime'), feature('cart_adds_lifetime')) },
    cart_adds_lifetime: { description: 'Products added to a cart, ever', type: 'int', from: events('Product Added'), aggregate: count() },
    plan: { description: 'Plan from the latest identify call that named one', type: 'string', from: identifies(), aggregate: last('traits.plan') },
    last_device_type: { description: 'Device type of the latest call', type: 'string', from: allEvents(), aggregate: last('context.device.type') },
    // ---- shop database (CDC) ----
    subscriber: { description: 'Subscribed to the newsletter (shop database, customers.subscribed)', type: 'bool', from: cdc('shop', 'public.customers'), aggregate: latest('subscribed'), default: false },
    paid_orders_db: { description: 'Orders in the shop database that are paid (refunds and deletions excluded)', type: 'int', from: cdc('shop', 'public.orders'), aggregate: count(), where: eq(field('status'), 'paid') },
    // ---- CRM ----
    lifecycle_stage: { description: 'HubSpot lifecycle stage of the latest contact record', type: 'string', from: crm('hubspot'), aggregate: latest('lifecycle_stage'), owner: 'marketing-ops' },
    lead_score: { description: 'HubSpot lead score', type: 'float', from: crm('hubspot'), aggregate: latest('lead_score'), owner: 'marketing-ops' },
  },
});
