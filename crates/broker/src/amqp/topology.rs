//! The exchanges and queues behind one dq queue, declared idempotently on
//! every new channel (so a restarted broker without them gets them back):
//!
//! - `{prefix}{queue}`: durable; messages it rejects dead-letter through
//!   `{prefix}dq.dlx` to the dead queue;
//! - `{prefix}{queue}.retry`: durable, no consumers; each message carries
//!   its own expiration (the retry delay) and, expired, dead-letters back to
//!   the main queue through the default exchange;
//! - `{prefix}{queue}.dead`: durable, bound to the direct exchange
//!   `{prefix}dq.dlx` with the main queue's name as routing key.

use dq_core::Queue;
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::config::QueueNames;

/// Message counts, as the broker reports them when a queue is declared.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub ready: u64,
    pub consumers: u64,
    pub delayed: u64,
    pub dead: u64,
}

pub async fn declare_all(channel: &Channel, names: &QueueNames) -> Result<(), lapin::Error> {
    for queue in Queue::ALL {
        declare(channel, names, queue).await?;
    }
    Ok(())
}

pub async fn declare(
    channel: &Channel,
    names: &QueueNames,
    queue: Queue,
) -> Result<Counts, lapin::Error> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let main = names.main(queue);
    let dlx = names.amqp_dead_letter_exchange();
    channel
        .exchange_declare(
            dlx.as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let dead = channel
        .queue_declare(
            names.amqp_dead(queue).into(),
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            names.amqp_dead(queue).into(),
            dlx.as_str().into(),
            main.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let ready = channel
        .queue_declare(main.as_str().into(), durable, dead_letter_to(&dlx, &main))
        .await?;
    let delayed = channel
        .queue_declare(
            names.amqp_retry(queue).into(),
            durable,
            dead_letter_to("", &main),
        )
        .await?;
    Ok(Counts {
        ready: u64::from(ready.message_count()),
        consumers: u64::from(ready.consumer_count()),
        delayed: u64::from(delayed.message_count()),
        dead: u64::from(dead.message_count()),
    })
}

fn dead_letter_to(exchange: &str, routing_key: &str) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from(exchange)),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(LongString::from(routing_key)),
    );
    arguments
}

/// Deletes every queue and the exchange of this prefix, messages included.
pub async fn delete_all(channel: &Channel, names: &QueueNames) -> Result<(), lapin::Error> {
    for queue in Queue::ALL {
        for name in [
            names.main(queue),
            names.amqp_retry(queue),
            names.amqp_dead(queue),
        ] {
            channel
                .queue_delete(name.into(), QueueDeleteOptions::default())
                .await?;
        }
    }
    channel
        .exchange_delete(
            names.amqp_dead_letter_exchange().into(),
            ExchangeDeleteOptions::default(),
        )
        .await
}
