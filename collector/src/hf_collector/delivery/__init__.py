"""Getting UNS messages to the broker whatever the network does: a disk queue and an MQTT sender."""
