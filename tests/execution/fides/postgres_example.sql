-- The shop the Fides dataset postgres_example.yml describes: Alice (customer 1, also
-- employee 1), Bob (customer 2) and Dan (employee 2), whom no request for Alice may touch
-- except where a row is Alice's too.
CREATE TABLE address (
    id integer PRIMARY KEY,
    house integer,
    street varchar(100),
    city varchar(50),
    state varchar(50),
    zip varchar(10)
);
CREATE TABLE customer (
    id integer PRIMARY KEY,
    email varchar(200),
    name varchar(40),
    created timestamp NOT NULL,
    address_id integer REFERENCES address(id),
    profile jsonb
);
CREATE TABLE archived_customer (id integer PRIMARY KEY, email varchar(200), name varchar(40));
CREATE TABLE employee (
    id integer PRIMARY KEY,
    email varchar(200),
    name varchar(40),
    address_id integer REFERENCES address(id)
);
CREATE TABLE login (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customer(id),
    time timestamp
);
CREATE TABLE orders (
    id varchar(20) PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customer(id),
    shipping_address_id integer REFERENCES address(id)
);
CREATE TABLE product (id integer PRIMARY KEY, name varchar(100), price numeric(10, 2));
-- No primary key, as in Fides' own example: a row is named by every field read.
CREATE TABLE order_item (
    order_id varchar(20) NOT NULL REFERENCES orders(id),
    product_id integer NOT NULL REFERENCES product(id),
    quantity integer NOT NULL
);
CREATE TABLE payment_card (
    id varchar(20) PRIMARY KEY,
    name varchar(100),
    ccn bigint,
    code smallint,
    preferred boolean,
    customer_id integer NOT NULL REFERENCES customer(id),
    billing_address_id integer REFERENCES address(id)
);
CREATE TABLE report (
    id integer PRIMARY KEY,
    email varchar(200),
    name varchar(100),
    year integer,
    month integer,
    total_visits integer
);
CREATE TABLE service_request (
    id varchar(20) PRIMARY KEY,
    email varchar(200),
    alt_email varchar(200),
    opened date,
    closed date,
    employee_id integer REFERENCES employee(id)
);
CREATE TABLE visit (email varchar(200), last_visit timestamp);

INSERT INTO address VALUES
    (1, 12, 'Acacia Avenue', 'Luton', 'Bedfordshire', 'LU1 1AA'),
    (2, 7, 'Baker Street', 'London', 'Greater London', 'NW1 6XE'),
    (3, 1, 'Canal Wharf', 'Leeds', 'West Yorkshire', 'LS11 5PS'),
    (4, 3, 'Dock Road', 'Hull', 'East Yorkshire', 'HU1 2AA');
INSERT INTO customer VALUES
    (1, 'alice@example.com', 'Alice Archer', '2025-03-01 09:00', 1,
     '{"phone": "+44 20 7946 0001", "newsletter": true}'),
    (2, 'bob@example.com', 'Bob Baker', '2025-04-01 10:00', 2,
     '{"phone": "+44 20 7946 0002", "newsletter": false}');
INSERT INTO archived_customer VALUES (1, 'alice@example.com', 'Alice Archer');
INSERT INTO employee VALUES
    (1, 'alice@example.com', 'Alice Archer', 1),
    (2, 'dan@example.com', 'Dan Driver', NULL);
INSERT INTO login VALUES
    (1, 1, '2026-01-05 09:00'),
    (2, 1, '2026-01-06 18:30'),
    (3, 2, '2026-01-07 08:15');
INSERT INTO orders VALUES
    ('ord_1001', 1, 3),
    ('ord_1002', 1, 1),
    ('ord_1003', 2, 2);
INSERT INTO product VALUES (1, 'Widget', 9.99), (2, 'Gadget', 24.50), (3, 'Doohickey', 3.00);
INSERT INTO order_item VALUES
    ('ord_1001', 1, 2),
    ('ord_1001', 2, 1),
    ('ord_1002', 3, 5),
    ('ord_1003', 1, 1);
INSERT INTO payment_card VALUES
    ('pay_1', 'Alice Archer', 4111111111111111, 123, true, 1, 1),
    ('pay_2', 'Bob Baker', 5555555555554444, 456, true, 2, 4);
INSERT INTO report VALUES
    (1, 'alice@example.com', 'Monthly visits', 2026, 1, 12),
    (2, 'bob@example.com', 'Monthly visits', 2026, 1, 3);
-- sr_1 by Alice's email; sr_2 only through employee 1, who is Alice; sr_3 by her address
-- given as the alternative email on Carol's request; sr_4 is Bob's, handled by Dan.
INSERT INTO service_request VALUES
    ('sr_1', 'alice@example.com', 'alice.archer@example.org', '2026-01-10', NULL, 2),
    ('sr_2', 'carol@example.com', NULL, '2026-01-11', '2026-01-12', 1),
    ('sr_3', 'carol@example.com', 'alice@example.com', '2026-01-13', NULL, 2),
    ('sr_4', 'bob@example.com', NULL, '2026-01-14', NULL, 2);
INSERT INTO visit VALUES
    ('alice@example.com', '2026-02-01 10:00'),
    ('bob@example.com', '2026-02-02 11:00');
